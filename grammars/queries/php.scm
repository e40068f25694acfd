; PHP definitions and imports. Conventions: see indexer/extract.h.

; Expressions, strings and types hold no definitions: extraction does not walk into them unless
; they hold a parse error. Assignments (`$r = require 'x.php'`) and parameter lists (promoted
; properties) stay open.
; opaque: binary_expression unary_op_expression conditional_expression cast_expression
; opaque: parenthesized_expression member_access_expression member_call_expression
; opaque: nullsafe_member_access_expression nullsafe_member_call_expression scoped_call_expression
; opaque: scoped_property_access_expression class_constant_access_expression subscript_expression
; opaque: array_creation_expression encapsed_string string heredoc nowdoc attribute_list
; opaque: qualified_name arguments namespace_use_declaration named_type union_type optional_type
; opaque: intersection_type base_clause class_interface_clause

; `namespace App\Models;` qualifies the whole file and is a symbol of its own (the statement);
; `namespace App\Models { ... }` is a symbol that contains its declarations.
(namespace_definition name: (namespace_name) @package !body)
(namespace_definition name: (namespace_name) @name !body) @definition.namespace
(namespace_definition name: (namespace_name) @name body: (compound_statement)) @definition.namespace

; Types. A trait is reported as a class (it has methods, properties and constants of its own).
(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.interface
(trait_declaration name: (name) @name) @definition.class
(enum_declaration name: (name) @name) @definition.enum
(enum_case name: (name) @name) @definition.enummember

; Functions and methods; __construct becomes a constructor.
(function_definition name: (name) @name) @definition.function
(method_declaration name: (name) @name) @definition.method

; Properties, one per element of `private int $a = 0, $b;`, and promoted constructor parameters.
; The name is the part after the `$`.
(property_element name: (variable_name (name) @name)) @definition.property
(property_promotion_parameter name: (variable_name (name) @name)) @definition.property

; Constants: `const A = 1, B = 2;` at the top or in a type, and define('A', 1).
(const_declaration (const_element (name) @name) @definition.constant)
(function_call_expression
  function: (name) @_define
  arguments: (arguments
    . (argument [
        (string . (string_content) @name .)
        (encapsed_string . (string_content) @name .)
      ]))
  (#eq? @_define "define")) @definition.constant

; use A\B\C; use function A\f; use const A\X; (an alias is not part of the specifier), and the
; common prefix of a group `use A\{B, C};`.
(namespace_use_declaration
  (namespace_use_clause . [(qualified_name) (name)] @import.use))
(namespace_use_declaration
  (namespace_name) @import.use
  body: (namespace_use_group))

; require/include of a plain string literal (no interpolation), with or without parentheses.
(require_expression [(_ . (string_content) @import.require .) (parenthesized_expression (_ . (string_content) @import.require .))])
(require_once_expression [(_ . (string_content) @import.require .) (parenthesized_expression (_ . (string_content) @import.require .))])
(include_expression [(_ . (string_content) @import.include .) (parenthesized_expression (_ . (string_content) @import.include .))])
(include_once_expression [(_ . (string_content) @import.include .) (parenthesized_expression (_ . (string_content) @import.include .))])
