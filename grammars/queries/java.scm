; Java definitions and imports. Conventions: see indexer/extract.h.

; Expressions (lambdas and argument lists too, as in C++), literals, annotations, types and imports
; hold no definitions: extraction does not walk into them unless they hold a parse error.
; opaque: argument_list annotation marker_annotation annotation_argument_list binary_expression
; opaque: unary_expression update_expression ternary_expression cast_expression
; opaque: instanceof_expression parenthesized_expression field_access array_access array_initializer
; opaque: array_creation_expression method_invocation method_reference assignment_expression
; opaque: lambda_expression string_literal class_literal type_arguments generic_type
; opaque: scoped_type_identifier scoped_identifier dimensions_expr import_declaration
; opaque: package_declaration formal_parameters type_parameters superclass super_interfaces throws
; opaque: modifiers array_type dimensions

; The package clause qualifies every top-level type of the file.
(package_declaration [(identifier) (scoped_identifier)] @package)

; Types, nested, inner and local ones included. Records are classes, @interface types interfaces.
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(enum_constant name: (identifier) @name) @definition.enummember

; Methods and constructors of named types (a class_body reached through a `body:` field: classes,
; records and enum constants). Members of anonymous classes (`new T() {...}`) are skipped.
(_ body: (class_body (method_declaration name: (identifier) @name) @definition.method))
(enum_body_declarations (method_declaration name: (identifier) @name) @definition.method)
(interface_body (method_declaration name: (identifier) @name) @definition.method)
(annotation_type_body (annotation_type_element_declaration name: (identifier) @name) @definition.method)
(_ body: (class_body (constructor_declaration name: (identifier) @name) @definition.constructor))
(enum_body_declarations (constructor_declaration name: (identifier) @name) @definition.constructor)
(class_body (compact_constructor_declaration name: (identifier) @name) @definition.constructor)

; Record components are fields.
(record_declaration
  parameters: (formal_parameters (formal_parameter name: (identifier) @name) @definition.field))

; `static final` fields are constants. A declaration with one declarator is the symbol; in
; `int a, b;` each declarator is one (matched as "has a later" or "has an earlier" declarator, not
; "next": a comment may sit between two, `A = 0,  // first`).
(_ body: (class_body
  (field_declaration
    [(modifiers "static" "final") (modifiers "final" "static")]
    type: (_) . (variable_declarator name: (identifier) @name) .) @definition.constant))
(enum_body_declarations
  (field_declaration
    [(modifiers "static" "final") (modifiers "final" "static")]
    type: (_) . (variable_declarator name: (identifier) @name) .) @definition.constant)
(_ body: (class_body
  (field_declaration
    [(modifiers "static" "final") (modifiers "final" "static")]
    (variable_declarator name: (identifier) @name) @definition.constant (variable_declarator))))
(_ body: (class_body
  (field_declaration
    [(modifiers "static" "final") (modifiers "final" "static")]
    (variable_declarator) (variable_declarator name: (identifier) @name) @definition.constant)))
(enum_body_declarations
  (field_declaration
    [(modifiers "static" "final") (modifiers "final" "static")]
    (variable_declarator name: (identifier) @name) @definition.constant (variable_declarator)))
(enum_body_declarations
  (field_declaration
    [(modifiers "static" "final") (modifiers "final" "static")]
    (variable_declarator) (variable_declarator name: (identifier) @name) @definition.constant))

; Interface and annotation fields are implicitly static final.
(constant_declaration
  type: (_) . (variable_declarator name: (identifier) @name) .) @definition.constant
(constant_declaration
  (variable_declarator name: (identifier) @name) @definition.constant (variable_declarator))
(constant_declaration
  (variable_declarator) (variable_declarator name: (identifier) @name) @definition.constant)

; Other fields, same shapes.
(_ body: (class_body
  (field_declaration type: (_) . (variable_declarator name: (identifier) @name) .) @definition.field))
(enum_body_declarations
  (field_declaration type: (_) . (variable_declarator name: (identifier) @name) .) @definition.field)
(_ body: (class_body
  (field_declaration
    (variable_declarator name: (identifier) @name) @definition.field (variable_declarator))))
(_ body: (class_body
  (field_declaration
    (variable_declarator) (variable_declarator name: (identifier) @name) @definition.field)))
(enum_body_declarations
  (field_declaration
    (variable_declarator name: (identifier) @name) @definition.field (variable_declarator)))
(enum_body_declarations
  (field_declaration
    (variable_declarator) (variable_declarator name: (identifier) @name) @definition.field))

; Imports. A wildcard's specifier is the part before `.*`, told apart by its kind.
((import_declaration [(identifier) (scoped_identifier)] @import.import) @_i
  (#not-match? @_i "^import\\s+static\\b")
  (#not-match? @_i "\\*"))
((import_declaration [(identifier) (scoped_identifier)] @import.wildcard (asterisk)) @_i
  (#not-match? @_i "^import\\s+static\\b"))
((import_declaration [(identifier) (scoped_identifier)] @import.static) @_i
  (#match? @_i "^import\\s+static\\b")
  (#not-match? @_i "\\*"))
((import_declaration [(identifier) (scoped_identifier)] @import.static_wildcard (asterisk)) @_i
  (#match? @_i "^import\\s+static\\b"))
