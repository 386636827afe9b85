; Highlights for PCR policies (.pcr). Capture names follow the common
; nvim-treesitter / Helix / Zed set.

(comment) @comment

; Declarations and clauses
["use" "policy" "extends" "schema" "codeset" "calendar" "rule" "remove" "replace"
 "test"] @keyword
["when" "unless" "require" "exempt" "reviewer" "deadline" "cite" "section"
 "effective" "through" "given" "expect" "rules" "missing" "possible" "timely"
 "before" "after" "all"] @keyword
["and" "or" "not" "in" "any"] @keyword.operator
"present" @function.builtin
["required" "list" "enum" "code" "system"] @keyword.type

; Outcomes and decisions
(outcome) @constant.builtin
(decision) @constant.builtin
(boolean) @boolean
["none" "unknown"] @constant.builtin

; Names
(policy_declaration name: (identifier) @module)
(schema_declaration name: (identifier) @type)
(codeset_declaration name: (identifier) @type.definition)
(calendar_declaration name: (identifier) @label)
(rule_declaration name: (identifier) @function)
(remove_declaration name: (identifier) @function)
(replace_declaration name: (identifier) @function)
(rule_name) @function
(set_name) @type
(type_name) @type.builtin
(field_declaration name: (identifier) @property)
(wording key: (identifier) @property)
(field_value field: (identifier) @property)
(module_path) @module
(property key: (identifier) @attribute)
(unit) @variable.builtin
(anchor) @variable.builtin
(system) @type.builtin

; Literals
(string) @string
(escape_sequence) @string.escape
(integer) @number
(decimal) @number.float
(money) @number
(date) @string.special
(datetime) @string.special
(code) @constant
(code_prefix) @constant
(test_declaration name: (string) @string.special)

; Punctuation and operators
["==" "!=" "<" "<=" ">" ">=" "+" "-" "=" ".."] @operator
["{" "}" "(" ")" "[" "]"] @punctuation.bracket
["," ":" "."] @punctuation.delimiter
