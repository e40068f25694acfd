; Go definitions and imports. Conventions: see indexer/extract.h.

; Types, constant declarations, parameter lists, literals and the expressions that cannot hold a
; function literal hold no definitions: extraction does not walk into them unless they hold a parse
; error. Calls, argument lists, composite literals and function literals stay open: a closure
; passed to `t.Run` may declare a type.
; opaque: parameter_list binary_expression unary_expression selector_expression index_expression
; opaque: slice_expression type_assertion_expression type_conversion_expression
; opaque: type_instantiation_expression interpreted_string_literal raw_string_literal
; opaque: const_declaration import_spec struct_type interface_type function_type map_type slice_type
; opaque: array_type channel_type pointer_type generic_type qualified_type type_arguments
; opaque: type_parameter_list

; The package clause qualifies every top-level name of the file.
(package_clause (package_identifier) @package)

; Functions, and methods qualified by their receiver type (`*T` and `T[K]` are cleaned to T).
(function_declaration name: (identifier) @name) @definition.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (_) @container))
  name: (field_identifier) @name) @definition.method

; Named types: structs, interfaces, and every other `type A B` / `type A = B` as an alias.
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name) @definition.typealias
(type_alias name: (type_identifier) @name) @definition.typealias

; Fields of named struct types, and of the struct type an alias names (`type E = struct {...}`):
; `(_ name: (type_identifier) type: ...)` is a type_spec or a type_alias. `X, Y int` declares
; several names in one node, and one node holds one symbol: there each name is its own definition
; node.
(_
  name: (type_identifier)
  type: (struct_type
    (field_declaration_list
      (field_declaration name: (field_identifier) @name) @definition.field))
  (#not-match? @definition.field "^[^\\s,]+\\s*,")
  (#not-eq? @name "_"))
(_
  name: (type_identifier)
  type: (struct_type
    (field_declaration_list
      (field_declaration name: (field_identifier) @name @definition.field) @_decl))
  (#match? @_decl "^[^\\s,]+\\s*,")
  (#not-eq? @name "_"))
; Embedded fields are named after their type: `sync.Mutex`, `*Logger`, `Base[T]`.
(_
  name: (type_identifier)
  type: (struct_type
    (field_declaration_list
      (field_declaration
        !name
        type: [
          (type_identifier) @name
          (qualified_type name: (type_identifier) @name)
          (generic_type type: [(type_identifier) @name (qualified_type name: (type_identifier) @name)])
          (pointer_type [(type_identifier) @name (qualified_type name: (type_identifier) @name)])
        ]) @definition.field)))

; Method elements of named interfaces.
(type_spec
  type: (interface_type
    (method_elem name: (field_identifier) @name) @definition.method))

; Package-level constants and variables (iota enums are plain const specs); not locals, not `_`.
; (const_spec's `name:` field also covers the commas, and then matches only its first name.)
(source_file
  (const_declaration
    (const_spec (identifier) @name) @definition.constant)
  (#not-match? @definition.constant "^[^\\s,]+\\s*,")
  (#not-eq? @name "_"))
(source_file
  (const_declaration
    (const_spec (identifier) @name @definition.constant) @_spec)
  (#match? @_spec "^[^\\s,]+\\s*,")
  (#not-eq? @name "_"))
(source_file
  (var_declaration
    [(var_spec name: (identifier) @name) @definition.variable
     (var_spec_list (var_spec name: (identifier) @name) @definition.variable)])
  (#not-match? @definition.variable "^[^\\s,]+\\s*,")
  (#not-eq? @name "_"))
(source_file
  (var_declaration
    [(var_spec name: (identifier) @name @definition.variable) @_spec
     (var_spec_list (var_spec name: (identifier) @name @definition.variable) @_spec)])
  (#match? @_spec "^[^\\s,]+\\s*,")
  (#not-eq? @name "_"))

; Imports, grouped or not, plain, aliased, dot and blank: the path as written.
(import_spec path: (_) @import.import)
