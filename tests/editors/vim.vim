" Loaded by tests/editors/run.sh: vim -Nu NONE -es with g:pcr_vim set to
" editors/vim, on policies/examples/demo.pcr. Checks the filetype and the
" highlight group at the first match of each pattern; prints
" "vim syntax: ok ..." or the failures, and exits 1 on any.
let &runtimepath = g:pcr_vim . ',' . &runtimepath
filetype on
syntax on
doautocmd BufRead
let s:fails = []
if &filetype !=# 'pcr'
  call add(s:fails, 'filetype is "' . &filetype . '", not pcr')
endif
" [pattern, group at the start of its first match]
let s:cases = [
      \ ['^# A small', 'pcrComment'],
      \ ['^use', 'pcrDeclaration'],
      \ ['^policy', 'pcrDeclaration'],
      \ ['"demo"', 'pcrString'],
      \ ['2026-01-01', 'pcrDate'],
      \ ['\<reviewer\>', 'pcrKeyword'],
      \ ['\<CPT\>', 'pcrSystem'],
      \ ['70551', 'pcrCode'],
      \ ['C50\.\*', 'pcrCode'],
      \ ['\<when\>', 'pcrKeyword'],
      \ ['code in mri \zsand', 'pcrOperator'],
      \ ['prior_auth', 'pcrOutcome'],
      \ ['price > \zs\$1,000', 'pcrMoney'],
      \ ['\<rule\> \zsimaging', 'pcrDeclName'],
      \ ['require \zsnot_covered', 'pcrOutcome'],
      \ ]
for [s:pat, s:group] in s:cases
  call cursor(1, 1)
  let s:pos = searchpos(s:pat, 'cW')
  if s:pos[0] == 0
    call add(s:fails, 'pattern not found: ' . s:pat)
    continue
  endif
  let s:got = synIDattr(synID(s:pos[0], s:pos[1], 1), 'name')
  if s:got !=# s:group
    call add(s:fails, printf('%d:%d (%s): expected %s, got %s', s:pos[0], s:pos[1], s:pat, s:group, s:got))
  endif
endfor
if empty(s:fails)
  call writefile(['vim syntax: ok, ' . len(s:cases) . ' highlights on demo.pcr'], '/dev/stdout')
  qall!
endif
call writefile(s:fails, '/dev/stdout')
cquit!
