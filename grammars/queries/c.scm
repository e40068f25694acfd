; C definitions and includes. Conventions: see indexer/extract.h.
; Prototypes and `extern` declarations are declarations, not definitions: not captured (as ctags).

; Expressions, argument and parameter lists and literals hold no definition a user looks for
; (a lambda's locals, say): extraction does not walk into them unless they hold a parse error.
; opaque: argument_list parameter_list initializer_list string_literal char_literal concatenated_string number_literal
; opaque: binary_expression call_expression parenthesized_expression assignment_expression field_expression
; opaque: subscript_expression unary_expression pointer_expression cast_expression conditional_expression
; opaque: sizeof_expression update_expression comma_expression compound_literal_expression

; Macros, object-like and function-like.
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; Functions; the declarator may be wrapped in pointers (`struct ringbuf *make(void)`).
(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))
  ]) @definition.function

; Tagged structs, unions and enums with a body; a union is a struct.
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum
(enumerator name: (identifier) @name) @definition.enummember

; Typedefs. `typedef struct {...} point;` names an anonymous struct (or union, or enum): it is
; that struct, and its fields nest in it. After a tagged body (`typedef struct node {...}
; node_t;`) the alias is its declarator only, so that the struct does not nest in it.
(type_definition
  type: [(struct_specifier !name body: (_)) (union_specifier !name body: (_))]
  .
  declarator: (type_identifier) @name) @definition.struct
(type_definition
  type: (enum_specifier !name body: (_))
  .
  declarator: (type_identifier) @name) @definition.enum
(type_definition
  type: [(struct_specifier name: (_) body: (_)) (union_specifier name: (_) body: (_)) (enum_specifier name: (_) body: (_))]
  declarator: [
    (type_identifier) @name @definition.typealias
    (_ declarator: (type_identifier) @name @definition.typealias)
  ])
(type_definition
  type: [
    (struct_specifier !body) (union_specifier !body) (enum_specifier !body)
    (primitive_type) (sized_type_specifier) (type_identifier) (macro_type_specifier)
  ]
  .
  declarator: [
    (type_identifier) @name
    (_ declarator: (type_identifier) @name)
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))
  ]) @definition.typealias

; Struct and union fields. The first declarator of a field declaration is the whole
; declaration; further ones (`int x, y;`) are their declarator.
(field_declaration
  type: (_)
  .
  declarator: [
    (field_identifier) @name
    (_ declarator: (field_identifier) @name)
    (_ declarator: (_ declarator: (field_identifier) @name))
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator declarator: (field_identifier) @name)))
  ]) @definition.field
(field_declaration
  declarator: (_) @_prev
  .
  declarator: [
    (field_identifier) @name @definition.field
    (_ declarator: (field_identifier) @name) @definition.field
    (_ declarator: (_ declarator: (field_identifier) @name)) @definition.field
  ])

; File-scope variables (also inside #if/#ifdef/#else blocks), one symbol per declarator; not
; `extern` ones. A `const` one is a constant, unless only what it points to is const.
(translation_unit
  (declaration
    (storage_class_specifier)? @_sc
    (type_qualifier) @_q
    declarator: [
      (identifier) @name @definition.constant
      (array_declarator declarator: (identifier) @name) @definition.constant
      (pointer_declarator (type_qualifier) declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]) @definition.constant
      (init_declarator declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator (type_qualifier) declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ]) @definition.constant
    ])
  (#not-eq? @_sc "extern")
  (#any-of? @_q "const" "constexpr"))
(_ ["#if" "#ifdef" "#ifndef" "#else" "#elif" "#elifdef" "#elifndef"]
  (declaration
    (storage_class_specifier)? @_sc
    (type_qualifier) @_q
    declarator: [
      (identifier) @name @definition.constant
      (array_declarator declarator: (identifier) @name) @definition.constant
      (pointer_declarator (type_qualifier) declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]) @definition.constant
      (init_declarator declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator (type_qualifier) declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ]) @definition.constant
    ])
  (#not-eq? @_sc "extern")
  (#any-of? @_q "const" "constexpr"))
(translation_unit
  (declaration
    (storage_class_specifier)? @_sc
    declarator: [
      (identifier) @name @definition.variable
      (_ !parameters declarator: (identifier) @name) @definition.variable
      (_ !parameters declarator: (_ !parameters declarator: (identifier) @name)) @definition.variable
      (_ !parameters declarator: (_ !parameters declarator: (_ !parameters declarator: (identifier) @name))) @definition.variable
      (_ declarator: (parenthesized_declarator (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]))) @definition.variable
      (init_declarator declarator: (_ declarator: (parenthesized_declarator (pointer_declarator declarator: (identifier) @name)))) @definition.variable
    ])
  (#not-eq? @_sc "extern"))
(_ ["#if" "#ifdef" "#ifndef" "#else" "#elif" "#elifdef" "#elifndef"]
  (declaration
    (storage_class_specifier)? @_sc
    declarator: [
      (identifier) @name @definition.variable
      (_ !parameters declarator: (identifier) @name) @definition.variable
      (_ !parameters declarator: (_ !parameters declarator: (identifier) @name)) @definition.variable
      (_ !parameters declarator: (_ !parameters declarator: (_ !parameters declarator: (identifier) @name))) @definition.variable
      (_ declarator: (parenthesized_declarator (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]))) @definition.variable
      (init_declarator declarator: (_ declarator: (parenthesized_declarator (pointer_declarator declarator: (identifier) @name)))) @definition.variable
    ])
  (#not-eq? @_sc "extern"))

; Includes: "local.h" and <system.h>.
(preproc_include path: (string_literal) @import.include)
(preproc_include path: (system_lib_string) @import.system)
