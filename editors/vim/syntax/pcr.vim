" Vim syntax file
" Language:    PCR, the prior-authorization rule language (*.pcr)
" Maintainer:  the PCR project (editors/vim in the PCR sources)
" Reference:   docs/language.md; keywords from grammar/lexer.l, kept in step
"              by editors/sync-keywords.sh (make test checks them)

if exists("b:current_syntax")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
setlocal iskeyword=@,48-57,_

" BEGIN KEYWORDS: written by editors/sync-keywords.sh from grammar/lexer.l; do not edit
syn keyword pcrConstant true false none unknown
syn keyword pcrDeclaration use policy schema codeset calendar rule test remove replace
syn keyword pcrKeyword extends when unless require exempt all reviewer deadline before after cite section effective through given expect rules missing timely possible
syn keyword pcrOperator and or not in any present
syn keyword pcrOutcome prior_auth notification not_covered advisory info_needed no_policy error
syn keyword pcrType required list enum code system
syn keyword pcrSystem CPT HCPCS ICD10 REV POS
" END KEYWORDS

" Comments: # and // to the end of the line.
syn keyword pcrTodo contained TODO FIXME XXX NOTE
syn match pcrComment "#.*$" contains=pcrTodo,@Spell
syn match pcrComment "//.*$" contains=pcrTodo,@Spell

" Strings with escapes.
syn match pcrEscape contained "\\\(u\x\{4}\|[\"\\nt]\)"
syn region pcrString start=+"+ skip=+\\\\\|\\"+ end=+"+ oneline contains=pcrEscape,@Spell

" Dates, datetimes, money, numbers.
" (Later matches win: a date is not read as numbers.)
syn match pcrNumber "\<\d\+\%(\.\d\+\)\=\>"
syn match pcrMoney "\$\d\+\%(,\d\{3}\)*\%(\.\d\{1,2}\)\="
syn match pcrDate "\<\d\{4}-\d\d-\d\d\%(T\d\d:\d\d\%(:\d\d\)\=\)\=\>"

" Code literals inside `{ CPT ... }`: 70551, 0213T, C50.911, C50.*, ranges.
syn region pcrCodeSet matchgroup=pcrDelimiter start="{\ze\s*\%(CPT\|HCPCS\|ICD10\|REV\|POS\)\>" end="}"
      \ contains=pcrSystem,pcrCode,pcrComment,pcrRange transparent
syn match pcrCode contained "\<[A-Za-z0-9]\+\%(\.[A-Za-z0-9]\+\)\=\%(\.\=\*\)\="
syn match pcrRange contained "\.\."

" Operators.
syn match pcrOperator "==\|!=\|<=\|>=\|[<>+=-]"

" The name after a declaration keyword.
syn match pcrDeclName "\%(\<\%(policy\|schema\|codeset\|calendar\|rule\)\s\+\)\@<=\h\w*"

" A schema field's wording key after a comma, before its string: `, unit
" "hours"`, `, ltac "LTAC"` (`true` and `false` stay keywords).
syn match pcrWordingKey "\%(,\s*\)\@<=\h\w*\ze\s\+\""

hi def link pcrDeclaration Statement
hi def link pcrKeyword     Keyword
hi def link pcrOperator    Operator
hi def link pcrConstant    Constant
hi def link pcrType        Type
hi def link pcrOutcome     Special
hi def link pcrSystem      Type
hi def link pcrComment     Comment
hi def link pcrTodo        Todo
hi def link pcrString      String
hi def link pcrEscape      SpecialChar
hi def link pcrDate        Constant
hi def link pcrMoney       Number
hi def link pcrNumber      Number
hi def link pcrCode        Constant
hi def link pcrRange       Operator
hi def link pcrDelimiter   Delimiter
hi def link pcrDeclName    Identifier
hi def link pcrWordingKey  Identifier

let b:current_syntax = "pcr"

let &cpo = s:cpo_save
unlet s:cpo_save
