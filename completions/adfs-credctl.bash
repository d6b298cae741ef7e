# bash completion for adfs-credctl(1)                      -*- shell-script -*-
#
# Installed as /usr/share/bash-completion/completions/adfs-credctl, where
# bash-completion loads it the first time adfs-credctl is completed. Role
# names come from `adfs-credctl roles --names` (the daemon's roles, or the
# config's when the daemon is not running), run with the -c/--config given
# on the line being completed.

# The role names, one a line. $1: the command as typed (words[0]).
_adfs_credctl_roles()
{
	local i cfg=()
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--) break ;;
		-c | --config) cfg=(-c "${words[i + 1]}") ;;
		--config=*) cfg=(-c "${words[i]#--config=}") ;;
		-c?*) cfg=(-c "${words[i]#-c}") ;;
		esac
	done
	# A leading ~/ is the user's home, as the shell would expand it.
	[[ ${cfg[1]-} == \~/* ]] && cfg[1]=$HOME/${cfg[1]#\~/}
	"$1" "${cfg[@]}" roles --names 2>/dev/null
}

# COMPREPLY: the words of $1 that start with $cur.
_adfs_credctl_reply()
{
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_adfs_credctl()
{
	local cur prev words cword split
	_init_completion -s || return

	local commands='login logout status roles refresh env exec check
		credential-process doctor aws-config help'
	local globals='-c --config -h --help'
	# Options that take a value (the next word, or after '=').
	local valued='@(-c|--config|--require|--for|--format|--profile-prefix|--file)'

	# Find the command, and count the words after it that are not options
	# or option values (ROLE for the commands that take one).
	local i w cmd='' nargs=0
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ $w == -- ]]; then
			[[ $cmd == exec ]] && break
			continue
		fi
		# shellcheck disable=SC2053
		if [[ $w == $valued ]]; then
			((i++))
		elif [[ $w != -* ]]; then
			if [[ -z $cmd ]]; then
				cmd=$w
			else
				((nargs++))
			fi
		fi
	done

	# After exec's --: a command line of its own.
	if [[ $cmd == exec ]] && ((i < cword)); then
		local j
		for ((j = 1; j < COMP_CWORD; j++)); do
			[[ ${COMP_WORDS[j]} == -- ]] && break
		done
		_command_offset $((j + 1))
		return
	fi

	case $prev in
	-c | --config | --file)
		_filedir
		return
		;;
	--format)
		_adfs_credctl_reply 'sh fish powershell json dotenv'
		return
		;;
	--require | --for | --profile-prefix)
		# A duration (8h, 90m, 3600) or a prefix: nothing to offer.
		return
		;;
	esac
	$split && return

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			_adfs_credctl_reply "$globals --version"
		else
			_adfs_credctl_reply "$commands"
		fi
		return
	fi

	local opts='' role=''
	case $cmd in
	login) opts='--password-stdin --force' ;;
	logout) ;;
	status) opts='--json --quiet --wide' ;;
	roles) opts='--json --names' ;;
	refresh | credential-process) role=1 ;;
	env) opts='--token-file --scoped --format --json' role=1 ;;
	exec) opts='--require --' role=1 ;;
	check) opts='--for --quiet --json' role=1 ;;
	doctor) opts='--json' ;;
	aws-config) opts='--print --diff --write --profile-prefix --file' ;;
	help)
		((nargs == 0)) &&
			_adfs_credctl_reply "$commands"
		return
		;;
	*) return ;;
	esac

	if [[ $cur == -* ]]; then
		_adfs_credctl_reply "$opts $globals"
	elif [[ -n $role ]] && ((nargs == 0)); then
		_adfs_credctl_reply "$(_adfs_credctl_roles "${words[0]}")"
	fi
} &&
	complete -F _adfs_credctl adfs-credctl

# ex: filetype=sh
