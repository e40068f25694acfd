; Ruby definitions and imports. Conventions: see indexer/extract.h.

; Strings, literals, parameter lists and some operators hold no definitions: extraction does not
; walk into them unless they hold a parse error. Argument lists and `or`/`and` stay open
; (`private def x`, `defined?(X) or require 'x'`).
; opaque: string unary range element_reference hash pair array interpolation heredoc_body regex
; opaque: string_array symbol_array delimited_symbol subshell method_parameters lambda_parameters
; opaque: block_parameters exceptions scope_resolution

; Classes and modules; `class A::B` qualifies B with the scope it is written with. A class opened
; twice is two symbols.
(class name: (scope_resolution scope: (_) @container name: (constant) @name)) @definition.class
(class name: (scope_resolution name: (constant) @name)) @definition.class
(class name: (constant) @name) @definition.class
(module name: (scope_resolution scope: (_) @container name: (constant) @name)) @definition.module
(module name: (scope_resolution name: (constant) @name)) @definition.module
(module name: (constant) @name) @definition.module

; `Point = Struct.new(...)` and friends define a class; listed before the constant patterns.
(assignment
  left: (constant) @name
  right: (call receiver: (constant) @_k method: (identifier) @_new)
  (#any-of? @_k "Struct" "Class" "Data")
  (#any-of? @_new "new" "define")) @definition.class

; A `def` at the top of a file is a function; any other one is a method (`initialize` in a class
; becomes a constructor). `def self.x` and the defs of `class << self` belong to the enclosing type.
(program (method name: (_) @name) @definition.function)
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
; `alias new old` and `alias_method :new, :old` define a method named new (not a global's alias).
(alias name: [(identifier) (constant) (setter) (operator) (simple_symbol)] @name) @definition.method
(call
  !receiver
  method: (identifier) @_alias
  arguments: (argument_list . [(simple_symbol) @name (string . (string_content) @name .)])
  (#eq? @_alias "alias_method")) @definition.method

; attr_reader :a, :b declares one property per symbol. The grammar has no node for the name without
; its colon, so the name text is ":a" unless the extractor strips it.
(call
  !receiver
  method: (identifier) @_attr
  arguments: (argument_list (simple_symbol) @name @definition.property)
  (#any-of? @_attr "attr_reader" "attr_writer" "attr_accessor"))

; Constants assigned at the top of a file or directly in a class or module body.
(program (assignment left: (constant) @name) @definition.constant)
(class body: (body_statement (assignment left: (constant) @name) @definition.constant))
(module body: (body_statement (assignment left: (constant) @name) @definition.constant))
(singleton_class body: (body_statement (assignment left: (constant) @name) @definition.constant))

; require "x" / require_relative "x" with a plain string (no interpolation).
(call
  !receiver
  method: (identifier) @_req
  arguments: (argument_list . (string . (string_content) @import.require .))
  (#eq? @_req "require"))
(call
  !receiver
  method: (identifier) @_req
  arguments: (argument_list . (string . (string_content) @import.require_relative .))
  (#eq? @_req "require_relative"))
