; C++ definitions and includes. Conventions: see indexer/extract.h.
; Free-function prototypes, friend declarations and `extern` variables are declarations, not
; definitions: not captured (as ctags). Member functions declared in a class are. Destructors
; are constructors (as clangd reports them). A template's definition is the class or function
; it wraps. `void ns::f() {}` cannot be told from `void Class::f() {}`: both are methods.

; Expressions, argument and parameter lists and literals hold no definition a user looks for
; (a lambda's locals, say): extraction does not walk into them unless they hold a parse error.
; opaque: argument_list parameter_list initializer_list string_literal char_literal concatenated_string number_literal
; opaque: binary_expression call_expression parenthesized_expression assignment_expression field_expression
; opaque: subscript_expression unary_expression pointer_expression cast_expression conditional_expression
; opaque: sizeof_expression update_expression comma_expression compound_literal_expression
; opaque: template_argument_list template_parameter_list raw_string_literal condition_clause new_expression
; opaque: delete_expression lambda_expression fold_expression qualified_identifier requires_clause noexcept
; opaque: attribute_declaration user_defined_literal

; Macros, object-like and function-like.
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; Namespaces, also `namespace a::b {}` and `namespace a::b::c {}` (the first part as a scope).
(namespace_definition name: (namespace_identifier) @name) @definition.namespace
(namespace_definition
  name: [
    (nested_namespace_specifier . (namespace_identifier) @container . (namespace_identifier) @name .)
    (nested_namespace_specifier
      (nested_namespace_specifier . (namespace_identifier) @container . (namespace_identifier) @name .))
  ]) @definition.namespace
(namespace_definition
  name: (nested_namespace_specifier . (namespace_identifier) @name . (nested_namespace_specifier))) @scope

; Classes, structs (unions too) and enums with a body; `class Outer::Inner {}` too, and the
; explicit specialization `class Box<int> {}` under its template's name.
(class_specifier
  name: [
    (type_identifier) @name
    (template_type name: (type_identifier) @name)
    (qualified_identifier scope: (_) @container name: [(type_identifier) @name (template_type name: (type_identifier) @name)])
  ]
  body: (_)) @definition.class
(struct_specifier
  name: [
    (type_identifier) @name
    (template_type name: (type_identifier) @name)
    (qualified_identifier scope: (_) @container name: [(type_identifier) @name (template_type name: (type_identifier) @name)])
  ]
  body: (_)) @definition.struct
(union_specifier
  name: [
    (type_identifier) @name
    (qualified_identifier scope: (_) @container name: (type_identifier) @name)
  ]
  body: (_)) @definition.struct
(enum_specifier
  name: [
    (type_identifier) @name
    (qualified_identifier scope: (_) @container name: (type_identifier) @name)
  ]
  body: (_)) @definition.enum
(enumerator name: (identifier) @name) @definition.enummember

; Constructors in a class body: named as the class; defined, declared, or templates.
(_
  name: [
    (type_identifier) @_class
    (template_type name: (type_identifier) @_class)
    (qualified_identifier name: [(type_identifier) @_class (template_type name: (type_identifier) @_class)])
  ]
  body: (field_declaration_list [
    (function_definition declarator: (function_declarator declarator: (identifier) @name)) @definition.constructor
    (declaration declarator: (function_declarator declarator: (identifier) @name)) @definition.constructor
    (template_declaration [
      (function_definition declarator: (function_declarator declarator: (identifier) @name))
      (declaration declarator: (function_declarator declarator: (identifier) @name))
    ] @definition.constructor)
  ])
  (#eq? @_class @name))
; Destructors, anywhere, and declared in a class body.
(function_definition declarator: (function_declarator declarator: (destructor_name) @name)) @definition.constructor
(field_declaration_list
  (declaration declarator: (function_declarator declarator: (destructor_name) @name)) @definition.constructor)

; Out-of-line members: `Shape::Shape()`, `Shape::~Shape()`, `Shape &Shape::operator=()`,
; `U Box<T>::as()`; the class is the container. In `ns::Shape::Shape()` the `ns` is a scope.
(function_definition
  declarator: (function_declarator
    declarator: [
      (qualified_identifier
        scope: [(namespace_identifier) @_class (template_type name: (type_identifier) @_class)] @container
        name: (identifier) @name)
      (qualified_identifier
        name: (qualified_identifier
          scope: [(namespace_identifier) @_class (template_type name: (type_identifier) @_class)] @container
          name: (identifier) @name))
    ])
  (#eq? @_class @name)) @definition.constructor
(function_definition
  declarator: (function_declarator
    declarator: [
      (qualified_identifier scope: (_) @container name: (destructor_name) @name)
      (qualified_identifier name: (qualified_identifier scope: (_) @container name: (destructor_name) @name))
    ])) @definition.constructor
(function_definition
  declarator: [
    (function_declarator declarator: (qualified_identifier scope: (_) @container name: (operator_name) @name))
    (function_declarator declarator: (qualified_identifier
      name: (qualified_identifier scope: (_) @container name: (operator_name) @name)))
    (_ (function_declarator declarator: (qualified_identifier scope: (_) @container name: (operator_name) @name)))
    (_ (function_declarator declarator: (qualified_identifier
      name: (qualified_identifier scope: (_) @container name: (operator_name) @name))))
    (qualified_identifier scope: (_) @container name: (operator_cast) @name)
  ]) @definition.operator
(function_definition
  declarator: [
    (function_declarator declarator: (qualified_identifier scope: (_) @container name: (identifier) @name))
    (function_declarator declarator: (qualified_identifier
      name: (qualified_identifier scope: (_) @container name: (identifier) @name)))
    (_ (function_declarator declarator: (qualified_identifier scope: (_) @container name: (identifier) @name)))
    (_ (function_declarator declarator: (qualified_identifier
      name: (qualified_identifier scope: (_) @container name: (identifier) @name))))
  ]) @definition.method
(function_definition
  declarator: [
    (function_declarator declarator: (qualified_identifier scope: (_) @name name: (qualified_identifier)))
    (_ (function_declarator declarator: (qualified_identifier scope: (_) @name name: (qualified_identifier))))
  ]) @scope

; Operators: defined anywhere, declared in a class body; `operator bool()` too (its name
; reaches to the end of its parameters: the grammar has no node for `operator bool` alone).
(function_definition
  declarator: [
    (function_declarator declarator: (operator_name) @name)
    (_ (function_declarator declarator: (operator_name) @name))
    (operator_cast) @name
  ]) @definition.operator
(field_declaration
  declarator: [
    (function_declarator declarator: (operator_name) @name)
    (_ (function_declarator declarator: (operator_name) @name))
  ]) @definition.operator
(field_declaration_list (declaration declarator: (operator_cast) @name) @definition.operator)

; Methods: defined in a class body, declared in it, and member templates declared in it.
(function_definition
  declarator: [
    (function_declarator declarator: (field_identifier) @name)
    (_ (function_declarator declarator: (field_identifier) @name))
  ]) @definition.method
(field_declaration
  declarator: [
    (function_declarator declarator: (field_identifier) @name)
    (_ (function_declarator declarator: (field_identifier) @name))
  ]) @definition.method
(field_declaration_list
  (template_declaration
    (declaration
      declarator: [
        (function_declarator declarator: (identifier) @name)
        (_ (function_declarator declarator: (identifier) @name))
      ]) @definition.method))

; Functions (a method when in a class body: friends defined inline), `template<> f<int>()` too.
(function_definition
  declarator: [
    (function_declarator declarator: [(identifier) @name (template_function name: (identifier) @name)])
    (_ (function_declarator declarator: [(identifier) @name (template_function name: (identifier) @name)]))
    (_ (_ (function_declarator declarator: (identifier) @name)))
  ]) @definition.function

; Type aliases: `using X = Y;`, and typedefs as in C: `typedef struct {...} point;` is that
; struct; after a tagged body the alias is its declarator only, so the struct does not nest in it.
(alias_declaration name: (type_identifier) @name) @definition.typealias
(type_definition
  type: [(struct_specifier !name body: (_)) (union_specifier !name body: (_)) (class_specifier !name body: (_))]
  .
  declarator: (type_identifier) @name) @definition.struct
(type_definition
  type: (enum_specifier !name body: (_))
  .
  declarator: (type_identifier) @name) @definition.enum
(type_definition
  type: [(struct_specifier name: (_) body: (_)) (union_specifier name: (_) body: (_))
         (class_specifier name: (_) body: (_)) (enum_specifier name: (_) body: (_))]
  declarator: [
    (type_identifier) @name @definition.typealias
    (_ declarator: (type_identifier) @name @definition.typealias)
  ])
(type_definition
  type: [
    (struct_specifier !body) (union_specifier !body) (class_specifier !body) (enum_specifier !body)
    (primitive_type) (sized_type_specifier) (type_identifier) (template_type) (qualified_identifier)
    (decltype) (dependent_type)
  ]
  .
  declarator: [
    (type_identifier) @name
    (_ declarator: (type_identifier) @name)
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))
  ]) @definition.typealias

; Concepts: named sets of requirements, the nearest thing to an interface.
(concept_definition name: (identifier) @name) @definition.interface

; Fields (static members too). The first declarator of a field declaration is the whole
; declaration; further ones (`double x, y;`) are their declarator.
(field_declaration
  type: (_)
  .
  declarator: [
    (field_identifier) @name
    (_ !parameters declarator: (field_identifier) @name)
    (_ !parameters declarator: (_ !parameters declarator: (field_identifier) @name))
    (reference_declarator (field_identifier) @name)
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator declarator: (field_identifier) @name)))
  ]) @definition.field
(field_declaration
  declarator: (_) @_prev
  .
  declarator: [
    (field_identifier) @name @definition.field
    (_ !parameters declarator: (field_identifier) @name) @definition.field
    (_ !parameters declarator: (_ !parameters declarator: (field_identifier) @name)) @definition.field
    (reference_declarator (field_identifier) @name) @definition.field
  ])
; Static data members defined out of line: `int Shape::count = 0;`, `ns::Shape::count` (a scope).
(declaration
  declarator: [
    (qualified_identifier scope: (_) @container name: (identifier) @name)
    (qualified_identifier name: (qualified_identifier scope: (_) @container name: (identifier) @name))
    (_ !parameters declarator: [
      (qualified_identifier scope: (_) @container name: (identifier) @name)
      (qualified_identifier name: (qualified_identifier scope: (_) @container name: (identifier) @name))
    ])
  ]) @definition.field
(declaration
  declarator: [
    (qualified_identifier scope: (_) @name name: (qualified_identifier))
    (_ !parameters declarator: (qualified_identifier scope: (_) @name name: (qualified_identifier)))
  ]) @scope

; Variables at file or namespace scope (also in `extern "C" {}` and #if blocks), one symbol per
; declarator; not `extern` ones. A lambda held by one is a function; a `const` or `constexpr`
; one is a constant, unless only what it points to is const.
; Predicates go after the alternation, in a group: inside it they would be an empty alternative
; that matches every node (millions of empty matches on Boost).
[
  (translation_unit (declaration declarator: (init_declarator declarator: (identifier) @name value: (lambda_expression)) @definition.function))
  (declaration_list (declaration declarator: (init_declarator declarator: (identifier) @name value: (lambda_expression)) @definition.function))
  (_ ["#if" "#ifdef" "#ifndef" "#else" "#elif" "#elifdef" "#elifndef"]
    (declaration declarator: (init_declarator declarator: (identifier) @name value: (lambda_expression)) @definition.function))
]
([
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
      ]))
  (declaration_list
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
      ]))
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
      ]))
]
  (#not-eq? @_sc "extern")
  (#any-of? @_q "const" "constexpr"))
([
  (translation_unit
    (declaration
      (storage_class_specifier)? @_sc
      declarator: [
        (identifier) @name @definition.variable
        (_ !parameters declarator: (identifier) @name) @definition.variable
        (_ !parameters declarator: (_ !parameters declarator: (identifier) @name)) @definition.variable
        (_ !parameters declarator: (_ !parameters declarator: (_ !parameters declarator: (identifier) @name))) @definition.variable
        (reference_declarator (identifier) @name) @definition.variable
        (init_declarator declarator: (reference_declarator (identifier) @name)) @definition.variable
        (_ declarator: (parenthesized_declarator (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]))) @definition.variable
        (init_declarator declarator: (_ declarator: (parenthesized_declarator (pointer_declarator declarator: (identifier) @name)))) @definition.variable
      ]))
  (declaration_list
    (declaration
      (storage_class_specifier)? @_sc
      declarator: [
        (identifier) @name @definition.variable
        (_ !parameters declarator: (identifier) @name) @definition.variable
        (_ !parameters declarator: (_ !parameters declarator: (identifier) @name)) @definition.variable
        (_ !parameters declarator: (_ !parameters declarator: (_ !parameters declarator: (identifier) @name))) @definition.variable
        (reference_declarator (identifier) @name) @definition.variable
        (init_declarator declarator: (reference_declarator (identifier) @name)) @definition.variable
        (_ declarator: (parenthesized_declarator (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]))) @definition.variable
        (init_declarator declarator: (_ declarator: (parenthesized_declarator (pointer_declarator declarator: (identifier) @name)))) @definition.variable
      ]))
  (_ ["#if" "#ifdef" "#ifndef" "#else" "#elif" "#elifdef" "#elifndef"]
    (declaration
      (storage_class_specifier)? @_sc
      declarator: [
        (identifier) @name @definition.variable
        (_ !parameters declarator: (identifier) @name) @definition.variable
        (_ !parameters declarator: (_ !parameters declarator: (identifier) @name)) @definition.variable
        (_ !parameters declarator: (_ !parameters declarator: (_ !parameters declarator: (identifier) @name))) @definition.variable
        (reference_declarator (identifier) @name) @definition.variable
        (init_declarator declarator: (reference_declarator (identifier) @name)) @definition.variable
        (_ declarator: (parenthesized_declarator (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)]))) @definition.variable
        (init_declarator declarator: (_ declarator: (parenthesized_declarator (pointer_declarator declarator: (identifier) @name)))) @definition.variable
      ]))
]
  (#not-eq? @_sc "extern"))

; Includes: "local.h" and <system>.
(preproc_include path: (string_literal) @import.include)
(preproc_include path: (system_lib_string) @import.system)
