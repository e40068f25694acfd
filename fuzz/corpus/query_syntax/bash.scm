; Bash definitions and imports. Conventions: see indexer/extract.h.

; `f() {}`, `function f {}` and `function f() {}`, whatever the body (braces or a subshell).
(function_definition name: (word) @name) @definition.function

; Top-level variables only (never locals in functions, nor `x+=` appends or `a[i]=` elements).
; readonly X=1 and declare -r X=1 are constants.
(program
  (declaration_command "readonly"
    (variable_assignment name: (variable_name) @name "=") @definition.constant))
(program
  (declaration_command ["declare" "typeset"] (word) @_flag
    (variable_assignment name: (variable_name) @name "=") @definition.constant)
  (#match? @_flag "^-[a-zA-Z]*r"))
; export X=1 is a variable, whatever its case.
(program
  (declaration_command "export"
    (variable_assignment name: (variable_name) @name "=") @definition.variable))
; Otherwise ALL_CAPS names are constants.
(program
  [
    (variable_assignment name: (variable_name) @name "=") @definition.constant
    (declaration_command ["declare" "typeset"]
      [(variable_assignment name: (variable_name) @name "=") (variable_name) @name] @definition.constant)
  ]
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))
(program
  [
    (variable_assignment name: (variable_name) @name "=") @definition.variable
    (declaration_command ["declare" "typeset"]
      [(variable_assignment name: (variable_name) @name "=") (variable_name) @name] @definition.variable)
  ])

; source FILE and . FILE, when FILE is the last argument (a sourced file's own arguments are rare,
; and the grammar splits /usr/lib/`cmd`/x.sh into two arguments). FILE is one word, one quoted
; string, or an unquoted concatenation such as $(dirname "$0")/lib.sh.
((command
   name: (command_name (word) @_cmd)
   .
   argument: [(word) (string) (raw_string)] @import.source
   .)
 (#any-of? @_cmd "source" "."))
((command
   name: (command_name (word) @_cmd)
   .
   argument: (concatenation) @import.source
   .)
 (#any-of? @_cmd "source" ".")
 (#not-match? @import.source "^[\"']|[\"']$"))
