# git fleet <TAB>: complete as git-fleet (installed in fish's vendor_conf.d).
function __fish_git_fleet_args
    set -l cmd (commandline -opc)
    set -e cmd[1]
    # git's own options before the subcommand, e.g. `git -C DIR fleet`.
    while set -q cmd[1]
        switch $cmd[1]
            case -C -c --git-dir --work-tree --namespace --exec-path --config-env
                set -e cmd[1..2]
            case '-*'
                set -e cmd[1]
            case '*'
                break
        end
    end
    test "$cmd[1]" = fleet
    or return 1
    set -e cmd[1]
    string escape -- $cmd
    return 0
end

function __fish_git_fleet_from_git
    set -l args (__fish_git_fleet_args) (commandline -ct | string escape)
    complete -C (string join ' ' -- git-fleet $args)
end

complete -c git -f -n '__fish_git_fleet_args >/dev/null' -a '(__fish_git_fleet_from_git)'
