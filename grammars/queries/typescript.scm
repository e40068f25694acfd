; TypeScript and TSX definitions and imports; typescript.scm and tsx.scm hold the same text.
; Conventions: see indexer/extract.h.

; Functions, generators and overload/ambient signatures; nested ones too.
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function

; Classes (abstract ones too, and `export default class Foo`), interfaces, type aliases, enums.
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
; A named class expression no module-level name binds: `const A = class A {...}` in a function
; body (esbuild's output), `module.exports = class Foo {}`, `f(class X {})`. (At the top or in a
; namespace, `const A = class B` is the class A; B is not looked for.)
[
  (function_declaration body: (statement_block (_ (variable_declarator value: (class name: (type_identifier) @name) @definition.class))))
  (function_expression body: (statement_block (_ (variable_declarator value: (class name: (type_identifier) @name) @definition.class))))
  (arrow_function body: (statement_block (_ (variable_declarator value: (class name: (type_identifier) @name) @definition.class))))
  (method_definition body: (statement_block (_ (variable_declarator value: (class name: (type_identifier) @name) @definition.class))))
  (assignment_expression right: (class name: (type_identifier) @name) @definition.class)
  (arguments (class name: (type_identifier) @name) @definition.class)
]
(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.typealias
(enum_declaration name: (identifier) @name) @definition.enum

; Enum members: A, B = 2, "c-d" = 3.
(enum_body name: (property_identifier) @name @definition.enummember)
(enum_body name: (string (string_fragment) @name) @definition.enummember)
(enum_body (enum_assignment name: (property_identifier) @name) @definition.enummember)
(enum_body (enum_assignment name: (string (string_fragment) @name)) @definition.enummember)

; namespace A {}, namespace A.B {} (A qualifies B), module A {}, declare module "x" {}.
(internal_module name: (identifier) @name) @definition.namespace
(internal_module name: (nested_identifier object: (_) @container property: (property_identifier) @name)) @definition.namespace
(module name: (identifier) @name) @definition.module
(module name: (nested_identifier object: (_) @container property: (property_identifier) @name)) @definition.module
(module name: (string (string_fragment) @name)) @definition.module

; Class members: get/set accessors are properties, fields holding a function are methods;
; method_signature is an overload, abstract_method_signature an abstract method.
(class_body
  (method_definition
    ["get" "set"]
    name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.property)
(class_body
  [(method_definition
     name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name)
   (method_signature
     name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name)
   (abstract_method_signature
     name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name)] @definition.method)
(class_body
  (public_field_definition
    name: [(property_identifier) (private_property_identifier)] @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.method)
(class_body
  (public_field_definition
    name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.field)
(class_body
  (public_field_definition name: (string (string_fragment) @name)) @definition.field)

; Constructor parameter properties: constructor(private readonly db: Db, public ttl = 60).
(method_definition
  name: (property_identifier) @_ctor
  parameters: (formal_parameters
    [(required_parameter [(accessibility_modifier) "readonly"] pattern: (identifier) @name)
     (optional_parameter [(accessibility_modifier) "readonly"] pattern: (identifier) @name)] @definition.field)
  (#eq? @_ctor "constructor"))

; Interface members.
(interface_body
  (property_signature
    name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.property)
(interface_body
  (property_signature name: (string (string_fragment) @name)) @definition.property)
(interface_body
  (method_signature
    name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.method)
(interface_body
  (method_signature name: (string (string_fragment) @name)) @definition.method)

; Module-level declarations: at the top, in a namespace or module body, exported or declared
; (`(_ (variable_declarator))` is a const/let/var declaration). A name bound to a function or a
; class, a React.memo/forwardRef component, then other const names (constant) and let/var names
; (variable). Locals inside functions are not symbols.
[
  (program (_ (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function))
  (internal_module body: (statement_block (_ (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function)))
  (module body: (statement_block (_ (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function)))
  (export_statement declaration: (_ (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function))
]
[
  (program (_ (variable_declarator name: (identifier) @name value: (class)) @definition.class))
  (internal_module body: (statement_block
    (_ (variable_declarator name: (identifier) @name value: (class)) @definition.class)))
  (module body: (statement_block
    (_ (variable_declarator name: (identifier) @name value: (class)) @definition.class)))
  (export_statement declaration: (_ (variable_declarator name: (identifier) @name value: (class)) @definition.class))
]
([
  (program (_ (variable_declarator
    name: (identifier) @name
    value: (call_expression
      function: [(identifier) (member_expression)] @_hoc
      arguments: (arguments . [(arrow_function) (function_expression)]))) @definition.function))
  (export_statement declaration: (_ (variable_declarator
    name: (identifier) @name
    value: (call_expression
      function: [(identifier) (member_expression)] @_hoc
      arguments: (arguments . [(arrow_function) (function_expression)]))) @definition.function))
 ]
 (#match? @_hoc "^(React\\.)?(memo|forwardRef)$"))
[
  (program (_ "const" (variable_declarator name: (identifier) @name) @definition.constant))
  (internal_module body: (statement_block (_ "const" (variable_declarator name: (identifier) @name) @definition.constant)))
  (module body: (statement_block (_ "const" (variable_declarator name: (identifier) @name) @definition.constant)))
  (export_statement declaration: (_ "const" (variable_declarator name: (identifier) @name) @definition.constant))
  (ambient_declaration (_ "const" (variable_declarator name: (identifier) @name) @definition.constant))
]
[
  (program (_ (variable_declarator name: (identifier) @name) @definition.variable))
  (internal_module body: (statement_block (_ (variable_declarator name: (identifier) @name) @definition.variable)))
  (module body: (statement_block (_ (variable_declarator name: (identifier) @name) @definition.variable)))
  (export_statement declaration: (_ (variable_declarator name: (identifier) @name) @definition.variable))
  (ambient_declaration (_ (variable_declarator name: (identifier) @name) @definition.variable))
]
; The methods of the object type of a `declare var X: {...}` (lib.dom's constructors:
; `URL.createObjectURL`, `DOMMatrix.fromRect`) are methods of X. Its `prototype`, `new()` and
; constants repeat the interface X and are left out.
(ambient_declaration (variable_declaration (variable_declarator
  type: (type_annotation (object_type (method_signature name: (property_identifier) @name) @definition.method)))))

; Top-level destructuring: const { a, b: c } = ..., let [d] = ...
[
  (program (_ "const" (variable_declarator name: [
    (object_pattern [(shorthand_property_identifier_pattern) @name (pair_pattern value: (identifier) @name)] @definition.constant)
    (array_pattern (identifier) @name @definition.constant)])))
  (export_statement declaration: (_ "const" (variable_declarator name: [
    (object_pattern [(shorthand_property_identifier_pattern) @name (pair_pattern value: (identifier) @name)] @definition.constant)
    (array_pattern (identifier) @name @definition.constant)])))
]
[
  (program (_ (variable_declarator name: [
    (object_pattern [(shorthand_property_identifier_pattern) @name (pair_pattern value: (identifier) @name)] @definition.variable)
    (array_pattern (identifier) @name @definition.variable)])))
  (export_statement declaration: (_ (variable_declarator name: [
    (object_pattern [(shorthand_property_identifier_pattern) @name (pair_pattern value: (identifier) @name)] @definition.variable)
    (array_pattern (identifier) @name @definition.variable)])))
]

; Functions in an object literal bound to a top-level const: const api = { get() {}, put: () => {} }.
[
  (program (_ "const" (variable_declarator value: (object [
    (method_definition name: [(property_identifier) (computed_property_name)] @name) @definition.method
    (pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method]))))
  (export_statement declaration: (_ "const" (variable_declarator value: (object [
    (method_definition name: [(property_identifier) (computed_property_name)] @name) @definition.method
    (pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method]))))
]

; Imports: import ... from "x" and import "x"; import x = require("x"); export ... from "x";
; require("x"); import("x").
(import_statement source: (string) @import.import)
(import_require_clause source: (string) @import.require)
(export_statement source: (string) @import.export)
(call_expression
  function: (identifier) @_require
  arguments: (arguments . [(string) (template_string)] @import.require .)
  (#eq? @_require "require")
  (#not-match? @import.require "\\$\\{"))
(call_expression
  function: (import)
  arguments: (arguments . [(string) (template_string)] @import.import)
  (#not-match? @import.import "\\$\\{"))
