; Rust definitions and imports. Conventions: see indexer/extract.h.

; Macro token trees, attributes, types, parameter lists, literals and the expressions that seldom
; hold a closure hold no definitions: extraction does not walk into them unless they hold a parse
; error. Calls and method chains stay open: a closure passed to `thread::spawn` may declare a type.
; opaque: token_tree token_tree_pattern macro_rule macro_invocation attribute_item
; opaque: inner_attribute_item parameters closure_parameters type_arguments scoped_identifier
; opaque: generic_function string_literal raw_string_literal binary_expression unary_expression
; opaque: type_cast_expression range_expression tuple_expression array_expression struct_expression
; opaque: field_initializer_list use_declaration extern_crate_declaration type_parameters
; opaque: where_clause trait_bounds generic_type reference_type scoped_type_identifier function_type
; opaque: tuple_type array_type pointer_type field_declaration_list ordered_field_declaration_list
; opaque: visibility_modifier

; Modules, inline (`mod m { ... }`) or in their own file (`mod m;`).
(mod_item name: (identifier) @name) @definition.module

; Functions; inside a trait or an impl they become methods. Bodiless signatures are trait
; methods, or functions of an `extern` block.
(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function

; An impl block names the type its items belong to, for `impl Trait for Type` too. Generic
; arguments, paths and references are left out: `impl<T> fmt::Display for &'a ast::Node<T>` is Node.
(impl_item
  type: [
    (type_identifier) @name
    (primitive_type) @name
    (generic_type type: [(type_identifier) @name (scoped_type_identifier name: (type_identifier) @name)])
    (scoped_type_identifier name: (type_identifier) @name)
    (reference_type type: [
      (type_identifier) @name
      (generic_type type: [(type_identifier) @name (scoped_type_identifier name: (type_identifier) @name)])
      (scoped_type_identifier name: (type_identifier) @name)])
  ]) @scope

; Types: structs and unions, enums and their variants, traits, aliases and associated types.
(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(enum_variant name: (identifier) @name) @definition.enummember
(trait_item name: (type_identifier) @name) @definition.interface
(type_item name: (type_identifier) @name) @definition.typealias
(associated_type name: (type_identifier) @name) @definition.typealias

; Named fields of structs and unions (tuple fields have no name).
(struct_item
  body: (field_declaration_list
    (field_declaration name: (field_identifier) @name) @definition.field))
(union_item
  body: (field_declaration_list
    (field_declaration name: (field_identifier) @name) @definition.field))

; const and static items of modules, impls, traits and extern blocks; not those local to a function.
(source_file [(const_item name: (identifier) @name) (static_item name: (identifier) @name)] @definition.constant)
(declaration_list [(const_item name: (identifier) @name) (static_item name: (identifier) @name)] @definition.constant)

(macro_definition name: (identifier) @name) @definition.macro

; use declarations: the path as written, a `{...}` group included (`std::fmt::{self, Display}`).
; Without its alias for `a::b as c`; a group spread over several lines gives its prefix path.
(use_declaration argument: (use_as_clause path: (_) @import.use))
(use_declaration
  argument: (scoped_use_list path: (_) @import.use) @_tree
  (#match? @_tree "\n"))
(use_declaration
  argument: [(identifier) (scoped_identifier) (use_wildcard) (scoped_use_list) (use_list) (crate) (self) (super)] @import.use
  (#not-match? @import.use "\n"))
(mod_item !body name: (identifier) @import.mod)
(extern_crate_declaration name: (identifier) @import.extern)
