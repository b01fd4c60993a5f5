# Sourced by scripts/setup.sh and scripts/setup_jazzy.sh: `step WHAT COMMAND...` runs COMMAND with its output
# (pip's, setuptools' build warnings, ...) going to the log file $STEP_LOG and prints one line: WHAT ... ok (N s).
# When COMMAND fails it prints the end of that step's output and where the whole log is, then exits with its code.
# STEP_LOG and STEP_PREFIX (e.g. [setup]) are set by the script that sources this.

step_start_log() {  # step_start_log: a fresh log file, its folder made
  mkdir -p "$(dirname "$STEP_LOG")"
  : > "$STEP_LOG"
}

step() {
  local what=$1 start=$SECONDS code=0 from
  shift
  printf '%s %s ... ' "$STEP_PREFIX" "$what"
  from=$(($(wc -l < "$STEP_LOG") + 1))
  echo "### $what: $*" >> "$STEP_LOG"
  "$@" >> "$STEP_LOG" 2>&1 || code=$?
  if [[ $code -eq 0 ]]; then
    echo "ok ($((SECONDS - start)) s)"
    return 0
  fi
  echo "failed (exit $code); its output (the last 60 lines):"
  tail -n "+$from" "$STEP_LOG" | tail -n 60
  echo "$STEP_PREFIX the whole log: $STEP_LOG"
  exit "$code"
}
