# fish completion for adfs-credctl(1)
#
# Installed as /usr/share/fish/vendor_completions.d/adfs-credctl.fish, where
# fish loads it the first time adfs-credctl is completed. Role names come
# from `adfs-credctl roles --names` (the daemon's roles, or the config's
# when the daemon is not running), run with the -c/--config given on the
# line being completed.

# The tokens before the cursor, up to exec's -- (not included).
function __adfs_credctl_tokens
    set -l tokens (commandline -opc)
    set -l cmd
    set -l i 2
    while test $i -le (count $tokens)
        set -l t $tokens[$i]
        if test "$t" = --; and test "$cmd" = exec
            break
        end
        switch $t
            case -c --config --require --for --format --profile-prefix --file
                set i (math $i + 1)
            case '-*'
            case '*'
                test -z "$cmd"; and set cmd $t
        end
        set i (math $i + 1)
    end
    printf '%s\n' $tokens[1..(math $i - 1)]
end

# The command on the line (login, status, ...), or nothing.
function __adfs_credctl_cmd
    set -l tokens (__adfs_credctl_tokens)
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case -c --config --require --for --format --profile-prefix --file
                set i (math $i + 1)
            case '-*'
            case '*'
                echo $tokens[$i]
                return 0
        end
        set i (math $i + 1)
    end
    return 1
end

# Whether the line has exec's -- before the cursor.
function __adfs_credctl_after_dashdash
    test (count (commandline -opc)) -gt (count (__adfs_credctl_tokens))
end

# Whether the command is one of $argv (and we are not after exec's --).
function __adfs_credctl_using
    not __adfs_credctl_after_dashdash; or return 1
    contains -- (__adfs_credctl_cmd) $argv
end

function __adfs_credctl_no_cmd
    not __adfs_credctl_cmd >/dev/null
end

# Whether a ROLE may come next: a command that takes one, and no word yet
# after the command that is not an option or an option's value.
function __adfs_credctl_wants_role
    __adfs_credctl_using refresh env exec check credential-process; or return 1
    set -l tokens (__adfs_credctl_tokens)
    set -l words 0
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case -c --config --require --for --format --profile-prefix --file
                set i (math $i + 1)
            case '-*'
            case '*'
                set words (math $words + 1)
        end
        set i (math $i + 1)
    end
    test $words -eq 1
end

function __adfs_credctl_roles
    set -l tokens (__adfs_credctl_tokens)
    set -l cfg
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case -c --config
                set i (math $i + 1)
                set cfg -c $tokens[$i]
            case '--config=*'
                set cfg -c (string replace -- --config= '' $tokens[$i])
            case '-c?*'
                set cfg -c (string sub -s 3 -- $tokens[$i])
        end
        set i (math $i + 1)
    end
    # A leading ~/ is the user's home, as the shell would expand it.
    set cfg (string replace -r -- '^~/' "$HOME/" $cfg)
    $tokens[1] $cfg roles --names 2>/dev/null
end

# After exec's --: the completions of the command line that follows.
function __adfs_credctl_exec_command
    set -l all (commandline -opc)
    set -l from (math (count (__adfs_credctl_tokens)) + 2)
    set -l rest
    # (Guarded: a fish range whose end is before its start runs backwards.)
    test $from -le (count $all); and set rest (string escape -- $all[$from..-1])
    complete -C (string join ' ' -- $rest (commandline -ct))
end

set -l c adfs-credctl
complete -c $c -f

# Global options, before or after the command.
complete -c $c -n 'not __adfs_credctl_after_dashdash' -s c -l config -r -F -d 'Config file'
complete -c $c -n 'not __adfs_credctl_after_dashdash' -s h -l help -d 'Show help'
complete -c $c -n __adfs_credctl_no_cmd -l version -d 'Show the version'

# Commands.
complete -c $c -n __adfs_credctl_no_cmd -a login -d 'Sign in to ADFS'
complete -c $c -n __adfs_credctl_no_cmd -a logout -d 'Forget password, cookies, sessions'
complete -c $c -n __adfs_credctl_no_cmd -a status -d 'Roles, expiry, refresh, errors'
complete -c $c -n __adfs_credctl_no_cmd -a roles -d 'Roles the last assertion offered'
complete -c $c -n __adfs_credctl_no_cmd -a refresh -d 'Refresh now and wait'
complete -c $c -n __adfs_credctl_no_cmd -a env -d 'Environment for SDKs'
complete -c $c -n __adfs_credctl_no_cmd -a exec -d 'Run a command with that environment'
complete -c $c -n __adfs_credctl_no_cmd -a check -d 'Served that long without you?'
complete -c $c -n __adfs_credctl_no_cmd -a credential-process -d 'credential_process JSON'
complete -c $c -n __adfs_credctl_no_cmd -a doctor -d 'Check every step from config to daemon'
complete -c $c -n __adfs_credctl_no_cmd -a aws-config -d 'Profiles in ~/.aws/config'
complete -c $c -n __adfs_credctl_no_cmd -a help -d 'Help on a command'
complete -c $c -n '__adfs_credctl_using help' -a 'login logout status roles refresh env exec check credential-process doctor aws-config'

# Each command's options.
complete -c $c -n '__adfs_credctl_using login' -l password-stdin -d 'Read the password from stdin'
complete -c $c -n '__adfs_credctl_using login' -l force -d 'Replace a login that is stuck'
complete -c $c -n '__adfs_credctl_using status' -l json -d 'JSON output'
complete -c $c -n '__adfs_credctl_using status' -l quiet -d 'Print nothing, only the exit status'
complete -c $c -n '__adfs_credctl_using status' -l wide -d 'Do not truncate'
complete -c $c -n '__adfs_credctl_using roles' -l json -d 'JSON output'
complete -c $c -n '__adfs_credctl_using roles' -l names -d 'Role names, one a line'
complete -c $c -n '__adfs_credctl_using env' -l token-file -d 'Token file instead of the token'
complete -c $c -n '__adfs_credctl_using env' -l scoped -d 'A token for this role only'
complete -c $c -n '__adfs_credctl_using env' -l format -x -a 'sh fish powershell json dotenv' -d 'Output format'
complete -c $c -n '__adfs_credctl_using env' -l json -d 'JSON output'
complete -c $c -n '__adfs_credctl_using exec' -l require -x -d 'Served this long (8h, 90m, 3600)'
complete -c $c -n '__adfs_credctl_using check' -l for -x -d 'Duration (8h, 90m, 3600)'
complete -c $c -n '__adfs_credctl_using check' -l quiet -d 'Print nothing, only the exit status'
complete -c $c -n '__adfs_credctl_using check' -l json -d 'JSON output'
complete -c $c -n '__adfs_credctl_using doctor' -l json -d 'JSON output'
complete -c $c -n '__adfs_credctl_using aws-config' -l print -d 'Print the profiles'
complete -c $c -n '__adfs_credctl_using aws-config' -l diff -d 'Show what --write would change'
complete -c $c -n '__adfs_credctl_using aws-config' -l write -d 'Write the profiles'
complete -c $c -n '__adfs_credctl_using aws-config' -l profile-prefix -x -d 'Prefix of the profile names'
complete -c $c -n '__adfs_credctl_using aws-config' -l file -r -F -d 'AWS config file'

# ROLE, and exec's command.
complete -c $c -n __adfs_credctl_wants_role -a '(__adfs_credctl_roles)' -d Role
complete -c $c -n __adfs_credctl_after_dashdash -a '(__adfs_credctl_exec_command)'
