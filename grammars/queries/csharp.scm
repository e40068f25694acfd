; C# definitions and imports. Conventions: see indexer/extract.h.

; A file-scoped `namespace X;` qualifies every top-level type of the file; a block namespace is a symbol.
(file_scoped_namespace_declaration name: (_) @package)
(namespace_declaration name: (_) @name) @definition.namespace

; Types. `record struct` is a struct, any other record a class. A delegate names a function type:
; a typealias (as `function` it would turn into `method` inside a class).
(class_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(record_declaration "struct" name: (identifier) @name) @definition.struct
(record_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.enum
(enum_member_declaration name: (identifier) @name) @definition.enummember
(delegate_declaration name: (identifier) @name) @definition.typealias

; Positional record parameters are properties.
(record_declaration (parameter_list (parameter name: (identifier) @name) @definition.property))

; Methods (interface ones included), constructors; a destructor `~T()` is a method named T.
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.constructor
(destructor_declaration name: (identifier) @name) @definition.method

; Properties; an indexer is a property named `this`.
(property_declaration name: (identifier) @name) @definition.property
(indexer_declaration "this" @name) @definition.property

; Operators are named by their token (`+`, `==`), conversions by their target type.
(operator_declaration operator: _ @name) @definition.operator
(conversion_operator_declaration type: (_) @name) @definition.operator

; Events, with accessors or field-like.
(event_declaration name: (identifier) @name) @definition.event
(event_field_declaration
  (variable_declaration type: (_) . (variable_declarator name: (identifier) @name) .)) @definition.event
(event_field_declaration
  (variable_declaration
    (variable_declarator name: (identifier) @name) @definition.event . (variable_declarator)))
(event_field_declaration
  (variable_declaration
    (variable_declarator) @_prev . (variable_declarator name: (identifier) @name) @definition.event))

; Fields; `const` ones are constants. A declaration with one declarator is the symbol; in
; `int a, b;` each declarator is one (matched as "has a next" or "has a previous" declarator).
(field_declaration (modifier "const")
  (variable_declaration type: (_) . (variable_declarator name: (identifier) @name) .)) @definition.constant
(field_declaration (modifier "const")
  (variable_declaration
    (variable_declarator name: (identifier) @name) @definition.constant . (variable_declarator)))
(field_declaration (modifier "const")
  (variable_declaration
    (variable_declarator) @_prev . (variable_declarator name: (identifier) @name) @definition.constant))
(field_declaration
  (variable_declaration type: (_) . (variable_declarator name: (identifier) @name) .)) @definition.field
(field_declaration
  (variable_declaration
    (variable_declarator name: (identifier) @name) @definition.field . (variable_declarator)))
(field_declaration
  (variable_declaration
    (variable_declarator) @_prev . (variable_declarator name: (identifier) @name) @definition.field))

; using directives: plain, `using static`, and aliases `using A = B;` (the specifier is B).
((using_directive !name (_) @import.using) @_u
  (#not-match? @_u "\\bstatic\\s"))
(using_directive "static" (_) @import.static)
(using_directive name: (identifier) . (_) @import.alias)
