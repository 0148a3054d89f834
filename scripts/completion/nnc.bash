# bash completion for nnc (installed as share/bash-completion/completions/nnc).
#
# The options come from `nnc --help` of the nnc being completed, so this file
# never falls behind the program; values are completed where they are a
# closed set (--emit, --dump-ir, --color), files elsewhere, and the model
# file from *.nn.
_nnc()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local emit="exe so obj llvm asm" stages="ast ir grad opt fused plan llvm asm decode" colors="auto always never"
    case $cur in
        --emit=*) COMPREPLY=($(compgen -P --emit= -W "$emit" -- "${cur#--emit=}")); return ;;
        --dump-ir=*) COMPREPLY=($(compgen -P --dump-ir= -W "$stages" -- "${cur#--dump-ir=}")); return ;;
        --color=*|--colour=*) COMPREPLY=($(compgen -P "${cur%%=*}=" -W "$colors" -- "${cur#*=}")); return ;;
    esac
    case $prev in
        --emit) COMPREPLY=($(compgen -W "$emit" -- "$cur")); return ;;
        --dump-ir) COMPREPLY=($(compgen -W "$stages" -- "$cur")); return ;;
        --data) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --load|--save|--metrics|--chart|-o|--output|--input|--export-step)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --epochs|--steps|--batch|--lr|--seed|--threads|--length|--temperature|--sample|--target-cpu)
            return ;;   # a value of the user's
    esac
    if [[ $cur == -* ]]; then
        local opts
        opts=$("${COMP_WORDS[0]}" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*=?' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi
    COMPREPLY=($(compgen -f -X '!*.nn' -- "$cur") $(compgen -d -- "$cur"))
}
complete -o filenames -F _nnc nnc
