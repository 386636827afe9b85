" PCR policies (prior-authorization rules): *.pcr
autocmd BufRead,BufNewFile *.pcr setfiletype pcr
