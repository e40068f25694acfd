; JavaScript definitions and imports. Conventions: see indexer/extract.h.

; Functions and generators, named classes (also `export default class Foo`); nested ones too.
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (identifier) @name) @definition.class
; A named class expression no module-level name binds: `const A = class A {...}` in a function
; (esbuild's output), `module.exports = class Foo {}`, `f(class X {})`. (At the top, `const A =
; class B` is the class A; B is not looked for.)
[
  (statement_block (_ (variable_declarator value: (class name: (identifier) @name) @definition.class)))
  (assignment_expression right: (class name: (identifier) @name) @definition.class)
  (arguments (class name: (identifier) @name) @definition.class)
]

; Class members: get/set accessors are properties, fields holding a function are methods.
(class_body
  (method_definition
    ["get" "set"]
    name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.property)
(class_body
  (method_definition
    name: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.method)
(class_body
  (field_definition
    property: [(property_identifier) (private_property_identifier)] @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.method)
(class_body
  (field_definition
    property: [(property_identifier) (private_property_identifier) (computed_property_name)] @name) @definition.field)

; this.x = ... in a constructor declares a field of the class.
(method_definition
  name: (property_identifier) @_ctor
  body: (statement_block
    (expression_statement
      (assignment_expression
        left: (member_expression
          object: (this)
          property: [(property_identifier) (private_property_identifier)] @name)) @definition.field))
  (#eq? @_ctor "constructor"))

; Module-level declarations, plain or exported (`(_ (variable_declarator))` is a const/let/var
; declaration): a name bound to a function or a class, a React.memo/forwardRef component, then
; other const names (constant) and let/var names (variable). Locals inside functions are not symbols.
[
  (program (_ (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function))
  (export_statement declaration: (_ (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function))
]
[
  (program (_ (variable_declarator name: (identifier) @name value: (class)) @definition.class))
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
  (export_statement declaration: (_ "const" (variable_declarator name: (identifier) @name) @definition.constant))
]
[
  (program (_ (variable_declarator name: (identifier) @name) @definition.variable))
  (export_statement declaration: (_ (variable_declarator name: (identifier) @name) @definition.variable))
]

; Module-level destructuring: const { a, b: c } = ..., let [d] = ...
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

; Functions in an object literal bound to a module-level const: const api = { get() {}, put: () => {} }.
[
  (program (_ "const" (variable_declarator value: (object [
    (method_definition name: [(property_identifier) (computed_property_name)] @name) @definition.method
    (pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method]))))
  (export_statement declaration: (_ "const" (variable_declarator value: (object [
    (method_definition name: [(property_identifier) (computed_property_name)] @name) @definition.method
    (pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method]))))
]

; Pre-class and CommonJS code: Foo.prototype.bar = function () {} is a method of Foo;
; exports.f = ... and module.exports.f = ... are functions.
(program (expression_statement (assignment_expression
  left: (member_expression
    object: (member_expression object: (identifier) @container property: (property_identifier) @_proto)
    property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @definition.method)
  (#eq? @_proto "prototype"))
(program (expression_statement (assignment_expression
  left: (member_expression
    object: [(identifier) @_exports (member_expression property: (property_identifier) @_exports)]
    property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @definition.function)
  (#eq? @_exports "exports"))

; Imports: import ... from "x" and import "x"; export ... from "x"; require("x"); import("x").
(import_statement source: (string) @import.import)
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
