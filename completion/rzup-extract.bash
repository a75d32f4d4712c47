# bash completion for rzup-extract            -*- shell-script -*-
# Installed by `ninja install` into share/bash-completion/completions/.

_rzup_extract()
{
    local cur prev words cword
    _init_completion || return

    case $prev in
        -C | --directory)
            _filedir -d
            return ;;
        --progress)
            COMPREPLY=($(compgen -W 'auto bar plain json none' -- "$cur"))
            return ;;
        --cacert)
            _filedir
            return ;;
        --help | -h)
            COMPREPLY=($(compgen -W 'all' -- "$cur"))
            return ;;
        --sha256 | --sha256-url | -H | --header | --include | --exclude | \
        --strip-components | --connect-timeout | --stall-timeout | \
        --retries | --retry-delay | --retry-max-time | --max-size | \
        --max-entries | --max-file-size | --max-ratio | -j | --jobs)
            return ;;
        --threads)
            COMPREPLY=($(compgen -W 'auto 1 2 4' -- "$cur"))
            return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--directory --strip-components --list
            --verbose --quiet --include --exclude --wildcards --replace
            --allow-outside-symlinks --no-strict-trailer --same-owner
            --keep-special-files --threads --sha256 --sha256-url --max-size
            --max-entries --max-file-size --max-ratio --header --cacert
            --insecure --netrc --connect-timeout --stall-timeout --retries
            --retry-delay --retry-max-time --progress --jobs --force --driver --help
            --version' -- "$cur"))
        return
    fi

    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W 'install' -- "$cur"))
        _filedir '@(tar|tgz|tar.gz|gz)'
        return
    fi
    if [[ ${words[1]} == install ]]; then
        _filedir '@(yaml|yml)'
    else
        _filedir '@(tar|tgz|tar.gz|gz)'
    fi
} &&
    complete -F _rzup_extract rzup-extract
