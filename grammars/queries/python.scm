; Python definitions and imports. Conventions: see indexer/extract.h.

; Expressions, argument and parameter lists and strings hold no definitions: extraction does not
; walk into them unless they hold a parse error.
; opaque: argument_list parameters lambda_parameters string concatenated_string binary_operator
; opaque: comparison_operator boolean_operator not_operator unary_operator list dictionary set tuple
; opaque: subscript parenthesized_expression lambda list_comprehension dictionary_comprehension
; opaque: set_comprehension generator_expression conditional_expression call attribute await

; @property-decorated methods are properties; listed before the general function pattern.
(decorated_definition
  (decorator [(identifier) @_d (attribute attribute: (identifier) @_d)])
  definition: (function_definition name: (identifier) @name) @definition.property
  (#any-of? @_d "property" "cached_property"))

(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function

; Module-level names: ALL_CAPS ones are constants.
(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.constant)
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))
(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.variable))
; Names bound inside the if/elif/else and try/except/else/finally blocks of a module or a class
; body (`HAVE_SSL = True` under `try:`, `DefaultSelector` in an `if` chain), one block deep, and
; tuple-unpacked names (`FTEXT, FHCRC = 1, 2`), each name its own definition.
(module
  (expression_statement
    (assignment left: [(pattern_list (identifier) @name @definition.constant) (tuple_pattern (identifier) @name @definition.constant)]))
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))
(module
  (expression_statement
    (assignment left: [(pattern_list (identifier) @name @definition.variable) (tuple_pattern (identifier) @name @definition.variable)])))
(module
  [(if_statement [
     consequence: (block (expression_statement [
       (assignment left: (identifier) @name) @definition.constant
       (assignment left: [(pattern_list (identifier) @name @definition.constant) (tuple_pattern (identifier) @name @definition.constant)])]))
     alternative: (_ (block (expression_statement [
       (assignment left: (identifier) @name) @definition.constant
       (assignment left: [(pattern_list (identifier) @name @definition.constant) (tuple_pattern (identifier) @name @definition.constant)])])))])
   (try_statement [
     body: (block (expression_statement [
       (assignment left: (identifier) @name) @definition.constant
       (assignment left: [(pattern_list (identifier) @name @definition.constant) (tuple_pattern (identifier) @name @definition.constant)])]))
     (_ (block (expression_statement [
       (assignment left: (identifier) @name) @definition.constant
       (assignment left: [(pattern_list (identifier) @name @definition.constant) (tuple_pattern (identifier) @name @definition.constant)])])))])]
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))
(module
  [(if_statement [
     consequence: (block (expression_statement [
       (assignment left: (identifier) @name) @definition.variable
       (assignment left: [(pattern_list (identifier) @name @definition.variable) (tuple_pattern (identifier) @name @definition.variable)])]))
     alternative: (_ (block (expression_statement [
       (assignment left: (identifier) @name) @definition.variable
       (assignment left: [(pattern_list (identifier) @name @definition.variable) (tuple_pattern (identifier) @name @definition.variable)])])))])
   (try_statement [
     body: (block (expression_statement [
       (assignment left: (identifier) @name) @definition.variable
       (assignment left: [(pattern_list (identifier) @name @definition.variable) (tuple_pattern (identifier) @name @definition.variable)])]))
     (_ (block (expression_statement [
       (assignment left: (identifier) @name) @definition.variable
       (assignment left: [(pattern_list (identifier) @name @definition.variable) (tuple_pattern (identifier) @name @definition.variable)])])))])])
; X: TypeAlias = ... and the 3.12 `type X = ...` statement.
(module (type_alias_statement left: (type (identifier) @name)) @definition.typealias)

; Class attributes, and instance attributes assigned in __init__.
(class_definition
  body: (block
    (expression_statement
      (assignment left: (identifier) @name) @definition.field)))
(class_definition
  body: (block
    (expression_statement
      (assignment left: [(pattern_list (identifier) @name @definition.field) (tuple_pattern (identifier) @name @definition.field)]))))
(class_definition
  body: (block
    [(if_statement [
       consequence: (block (expression_statement [
         (assignment left: (identifier) @name) @definition.field
         (assignment left: [(pattern_list (identifier) @name @definition.field) (tuple_pattern (identifier) @name @definition.field)])]))
       alternative: (_ (block (expression_statement [
         (assignment left: (identifier) @name) @definition.field
         (assignment left: [(pattern_list (identifier) @name @definition.field) (tuple_pattern (identifier) @name @definition.field)])])))])
     (try_statement [
       body: (block (expression_statement [
         (assignment left: (identifier) @name) @definition.field
         (assignment left: [(pattern_list (identifier) @name @definition.field) (tuple_pattern (identifier) @name @definition.field)])]))
       (_ (block (expression_statement [
         (assignment left: (identifier) @name) @definition.field
         (assignment left: [(pattern_list (identifier) @name @definition.field) (tuple_pattern (identifier) @name @definition.field)])])))])]))
(function_definition
  name: (identifier) @_init
  body: (block
    (expression_statement
      (assignment
        left: (attribute object: (identifier) @_self attribute: (identifier) @name)) @definition.field))
  (#eq? @_init "__init__")
  (#eq? @_self "self"))

(import_statement name: (dotted_name) @import.import)
(import_statement name: (aliased_import name: (dotted_name) @import.import))
(import_from_statement module_name: [(dotted_name) (relative_import)] @import.from)
; from m import a, b as c: one more import per name, specifier "m.a" (".a" after "from ."), so a
; submodule imported by name resolves to its own file; the resolver drops names that are no module.
(import_from_statement
  module_name: [(dotted_name) (relative_import)] @import.from_name
  name: [(dotted_name) @import_member (aliased_import name: (dotted_name) @import_member)])
