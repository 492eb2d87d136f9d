#!/usr/bin/env bash
# The chat screen end to end, as a person would use it: tmux runs `persona` against the mock
# provider; keys go in with send-keys and the screen comes back with capture-pane.
# Usage: Tests/e2e/chat_tmux.sh [BUILD_DIR]   (default .build/debug)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/.build/debug}"
work="$(mktemp -d)"
session="persona-e2e-$$"
passed=0
failed=0
mock_pids=()

cleanup() {
    tmux kill-session -t "=$session" 2>/dev/null
    tmux kill-session -t "=$session-keep" 2>/dev/null
    [ ${#mock_pids[@]} -gt 0 ] && kill "${mock_pids[@]}" 2>/dev/null
    # The local model's stand-in outlives the app, as the real server does; it stops with the test.
    find "$work" -name server.json -exec sed -n 's/.*"pid":\([0-9]*\).*/\1/p' {} \; | xargs -r kill 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# Sessions are killed by exact name (`=name`): a bare name that matches no session matches any
# session it begins, such as the one below.
# A session of its own keeps the tmux server up between the screens: killing the last session
# stops the server, and a new session started at that moment can land in the dying one.
tmux new-session -d -s "$session-keep" "sleep 86400"

check() {
    local name="$1"; shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; echo "---- screen ----"; screen; echo "----------------"
    fi
}

screen() { tmux capture-pane -t "$session" -p; }

# Waits up to $2 seconds (default 10) for the screen to contain $1.
wait_for() {
    local deadline=$((SECONDS + ${2:-10}))
    while [ $SECONDS -lt $deadline ]; do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}

# Waits up to $2 seconds (default 3) for $1 to leave the screen.
wait_gone() {
    local deadline=$((SECONDS + ${2:-3}))
    while [ $SECONDS -lt $deadline ]; do
        screen | grep -qF -- "$1" || return 0
        sleep 0.1
    done
    return 1
}

# The estimated output count on the first pane's status line (`~45` in `~196→~45`).
first_pane_output() { screen | grep -m1 -oE '(~|→)~?[0-9]+ ' | head -1 | tr -dc '0-9'; }

# Starts a mock with the given options, named $1, and prints its base URL once it listens.
start_mock() {
    local name="$1"; shift
    "$bin/persona-mock" --port 0 "$@" > "$work/$name.out" &
    mock_pids+=($!)
    for _ in $(seq 50); do grep -q listening "$work/$name.out" && break; sleep 0.1; done
    sed -n 's/^listening on //p' "$work/$name.out"
}

# Ends the current screen, and starts a mock named $1 with the options that follow for the next
# one; its base URL is left in $mock_base. (Not in a subshell: the mock must be in mock_pids.)
next_mock() {
    rm -f "$work/exit"
    tmux kill-session -t "=$session" 2>/dev/null
    start_mock "$@" > "$work/$1.base"
    mock_base="$(cat "$work/$1.base")"
}

# Quits the screen with Ctrl-C twice, and checks its exit status.
quit_screen() {
    tmux send-keys -t "$session" C-c
    tmux send-keys -t "$session" C-c
    check "the screen quits with status 0" test "$(wait_exit)" = "0"
}

start_mock mock --delay 0.04 --tokens 90 > "$work/mock.base"
base="$(cat "$work/mock.base")"
[ -n "$base" ] || { echo "the mock did not start"; exit 1; }

mkdir -p "$work/home"
cat > "$work/home/config.yaml" <<YAML
default_model: openai:mock
default_personas: [skeptic, optimist, pragmatist]
prices:
  "openai:mock": { input: 1.00, output: 2.00 }
  "openai:mock+tokens=12+delay=0.02": { input: 1.00, output: 2.00 }
YAML

tmux new-session -d -s "$session" -x 120 -y 30 \
    "stty -g > $work/modes-before; env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/home; status=\$?; stty -g > $work/modes-after; \
     echo \$status > $work/exit"
tmux set-option -t "$session" remain-on-exit on >/dev/null

check "the first run opens with the welcome" wait_for "Welcome to Persona"
tmux send-keys -t "$session" Escape
# A lone Escape, so that the next key is not read as Alt with it.
sleep 0.3
check "any key closes it, onto three panes" wait_for "The Pragmatist"
check "all three start ready" bash -c "[ \$(tmux capture-pane -t $session -p | grep -o '○ ready' | wc -l) -eq 3 ]"

tmux send-keys -t "$session" "Is remote work more productive?" Enter
check "panes start streaming" wait_for "● streaming" 5
first="$(first_pane_output)"
sleep 0.8
second="$(first_pane_output)"
check "counters tick while text streams ($first then $second)" test "${second:-0}" -gt "${first:-0}"
check "every pane shows its streamed text" bash -c \
    "[ \$(tmux capture-pane -t $session -p | grep -o 'Consider the evidence' | wc -l) -ge 3 ]"
check "the user's message is echoed in each pane" bash -c \
    "[ \$(tmux capture-pane -t $session -p | grep -o '› Is remote work' | wc -l) -eq 3 ]"
check "all three finish" wait_for "✓" 10
check "finished counters are exact (no ~ on output)" bash -c "tmux capture-pane -t $session -p | grep -q '→90 '"

tmux resize-window -t "$session" -x 70 -y 20
sleep 0.5
check "a 70-column screen reflows to a grid" bash -c \
    "tmux capture-pane -t $session -p | sed -n 2p | grep -q 'The Skeptic.*│.*The Optimist' && \
     tmux capture-pane -t $session -p | grep -q '^ The Pragmatist'"
check "the header still fits" bash -c "[ \$(tmux capture-pane -t $session -p | head -1 | wc -m) -le 71 ]"

tmux send-keys -t "$session" "And in a crisis?" Enter
check "the second question streams" wait_for "● streaming" 5
sleep 0.4
tmux send-keys -t "$session" Escape
check "Esc stops the focused pane and marks it" wait_for "■ stopped" 3

tmux send-keys -t "$session" F3
check "F3 shows the cost summary from the ledger" wait_for "Costs of all time" 3
tmux send-keys -t "$session" q
check "a key closes it" wait_gone "Costs of all time"

tmux send-keys -t "$session" C-c
check "the first Ctrl-C asks for a second" wait_for "Ctrl-C again" 3
tmux send-keys -t "$session" C-c
for _ in $(seq 50); do [ -f "$work/exit" ] && break; sleep 0.1; done
check "the second Ctrl-C quits with status 0" test "$(cat "$work/exit" 2>/dev/null)" = "0"
check "the terminal is restored (alternate screen off)" test "$(tmux display -p -t "$session" '#{alternate_on}')" = "0"
check "and its modes are as they were" test "$(cat "$work/modes-before")" = "$(cat "$work/modes-after" 2>/dev/null)"

# A three-round debate on the chat screen.
tmux kill-session -t "=$session" 2>/dev/null
rm -f "$work/exit"
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/home --mode rounds --rounds 3 \
     --personas skeptic,optimist,pragmatist --model openai:mock+tokens=12+delay=0.02; echo \$? > $work/exit; sleep 3"
tmux set-option -t "$session" remain-on-exit on >/dev/null
check "the debate screen opens in rounds mode" wait_for "│ rounds" 10
tmux send-keys -t "$session" "Debate: four-day weeks?" Enter
check "the round counter starts at 1 of 3" wait_for "round 1/3" 5
check "and advances to 3 of 3 without keystrokes" wait_for "round 3/3" 15
check "the debate ends" wait_gone "round 3/3" 15
check "every pane answered three times" bash -c \
    "[ \$(tmux capture-pane -t $session -p -S -200 | grep -o '✓ done' | wc -l) -eq 3 ]"
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" C-c
for _ in $(seq 50); do [ -f "$work/exit" ] && break; sleep 0.1; done
check "the debate screen quits with status 0" test "$(cat "$work/exit" 2>/dev/null)" = "0"
# The shell outlives the app a little, so that tmux reads the app's last line before the pane dies.
check "and says how to resume it" wait_for "resume with: persona --resume 20" 3

sessions="$("$bin/persona" sessions list --home "$work/home")"
debate_id="$(echo "$sessions" | awk '$4 == "rounds" {print $1; exit}')"
check "the debate is a saved session" test -n "$debate_id"
shown="$("$bin/persona" sessions show "$debate_id" --home "$work/home")"
check "with its three rounds" bash -c "echo \"\$0\" | grep -q 'Round 3' && [ \$(echo \"\$0\" | grep -c '^The .*(openai:mock.*):$') -eq 9 ]" "$shown"

rm -f "$work/exit"
tmux kill-session -t "=$session" 2>/dev/null
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/home --resume $debate_id; echo \$? > $work/exit"
check "--resume reopens the session with its panes refilled" wait_for "Debate: four-day weeks?" 10
check "in its mode" wait_for "│ rounds" 3
spent="$("$bin/persona" sessions list --home "$work/home" | awk -v id="$debate_id" '$1 == id {print $7}')"
# Whole micro-dollars at these prices, so the screen's rounding shows the exact figure.
check "and with what it spent, as the ledger has it ($spent)" bash -c \
    "case '$spent' in \\\$0.0*) ;; *) exit 1;; esac; tmux capture-pane -t $session -p | head -1 | grep -qF 'session $spent'"
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" C-c

# Resumed under a session budget it has already spent: nothing more is sent.
rm -f "$work/exit"
tmux kill-session -t "=$session" 2>/dev/null
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/home --resume $debate_id --budget 0.000001; echo \$? > $work/exit"
check "a resumed session counts what it spent before against its budget" wait_for "/ \$0.000001" 10
tmux send-keys -t "$session" "One more round?" Enter
check "so its next turns are refused" wait_for "Stopped: the budget is reached." 10
check "every pane says why" bash -c "[ \$(tmux capture-pane -t $session -p | grep -o '✗ failed: budget' | wc -l) -eq 3 ]"
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" C-c

rm -f "$work/exit"
tmux kill-session -t "=$session" 2>/dev/null
mkdir -p "$work/fresh"
cp "$work/home/config.yaml" "$work/fresh/config.yaml"
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/fresh 'A first question'; echo \$? > $work/exit"
check "a first run with a topic shows the welcome" wait_for "Welcome to Persona" 5
sleep 1
check "and holds the topic while it is open: nothing is sent" bash -c \
    "[ \$('$bin/persona' costs entries --json --home '$work/fresh' | grep -o '\"status\"' | wc -l) -eq 0 ]"
tmux send-keys -t "$session" W
check "the topic is sent when it closes" bash -c \
    "sleep 0.5; [ \$(tmux capture-pane -t $session -p | grep -o '› A first question' | wc -l) -eq 3 ]"
check "and the key that closed it is kept as typing" wait_for "› W" 3
tmux send-keys -t "$session" C-u
check "it is answered" wait_for "✓ done" 10

# A budget added to the config applies at /reload, at once.
printf 'budget: { session_usd: 0.000002 }\n' >> "$work/fresh/config.yaml"
tmux send-keys -t "$session" "/reload" Enter
check "/reload applies a new budget" wait_for "Budget: session \$0.000002" 5
check "the header shows it at once" wait_for "/ \$0.000002" 3
tmux send-keys -t "$session" "A second question" Enter
check "and the next turns are refused by it" wait_for "Stopped: the budget is reached." 10

# /clear starts a new session, in the header and in the ledger.
before="$(tmux capture-pane -t $session -p | head -1 | awk -F'│' '{print $2}' | tr -d ' ')"
tmux send-keys -t "$session" "/clear" Enter
sleep 0.5
after="$(tmux capture-pane -t $session -p | head -1 | awk -F'│' '{print $2}' | tr -d ' ')"
check "/clear starts a new session ($before, then $after)" bash -c "[ -n '$after' ] && [ '$after' != '$before' ]"
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" C-c
for _ in $(seq 50); do [ -f "$work/exit" ] && break; sleep 0.1; done
check "the fresh home's ledger knows both sessions apart" bash -c \
    "\"$bin/persona\" costs entries --json --home $work/fresh | grep -q '\"session\":\"$before\"'"

costs="$("$bin/persona" costs --json --home "$work/home")"
check "the ledger holds every request of both sessions, and the refusals" bash -c "echo '$costs' | grep -q '\"request_count\":18'"
check "and prices them" bash -c "echo '$costs' | grep -qE '\"total_cost\":0\.[0-9]*[1-9]'"

# Signals. Each run streams a slow answer in a fresh session of its own home; persona replaces the
# `sh` that wrote its pid, so the pid is the one to signal. The shell lingers after persona exits,
# so that the modes are read from a live pane (tmux hides the cursor of a dead one).
mkdir -p "$work/signals"
cp "$work/home/config.yaml" "$work/signals/config.yaml"
chat_for_signals() {
    rm -f "$work/exit" "$work/pid" "$work/modes-before" "$work/modes-after"
    tmux kill-session -t "=$session" 2>/dev/null
    tmux new-session -d -s "$session" -x 120 -y 30 \
        "stty -g > $work/modes-before; sh -c 'echo \$\$ > $work/pid; exec env TERM=xterm-256color LANG=C.UTF-8 \
         OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona \
         --home $work/signals --model openai:mock+tokens=400+delay=0.05'; status=\$?; stty -g > $work/modes-after; \
         echo \$status > $work/exit; sleep 5"
    tmux set-option -t "$session" remain-on-exit on >/dev/null
    if wait_for "Welcome to Persona" 3; then tmux send-keys -t "$session" Escape; fi
    wait_for "○ ready" 5
    tmux send-keys -t "$session" "$1" Enter
    wait_for "● streaming" 5
    sleep 0.5
}
terminal_restored() {
    local flags
    flags="$(tmux display -p -t "$session" '#{alternate_on}#{mouse_any_flag}#{mouse_sgr_flag}#{cursor_flag}')"
    [ "$flags" = "0001" ] || { echo "alternate screen, mouse, SGR mouse, cursor: $flags"; return 1; }
    [ "$(cat "$work/modes-before")" = "$(cat "$work/modes-after" 2>/dev/null)" ] || { echo "stty modes differ"; return 1; }
}
wait_exit() { for _ in $(seq 80); do [ -f "$work/exit" ] && break; sleep 0.1; done; cat "$work/exit" 2>/dev/null; }
stopped_with_text() {
    "$bin/persona" costs entries --json --home "$work/signals" |
        python3 -c "import json,sys; rows=[r for r in json.load(sys.stdin)['entries'] if r['status']=='cancelled']; sys.exit(len(rows) != $1)" &&
    id="$("$bin/persona" sessions list --home "$work/signals" | awk 'NR > 1 && $1 ~ /^[0-9]/ {print $1; exit}')" &&
    "$bin/persona" sessions export "$id" --format json --home "$work/signals" |
        python3 -c "import json,sys; m=[x for x in json.load(sys.stdin)['messages'] if x['role']=='persona']; \
                    sys.exit(not (len(m) == 1 and all(x['status']=='stopped' and x['text'].startswith('Consider the evidence') for x in m)))"
}

chat_for_signals "Stopped by SIGTERM"
kill -TERM "$(cat "$work/pid")"
check "SIGTERM ends the chat screen with status 143" test "$(wait_exit)" = "143"
check "the terminal is given back: main screen, mouse off, cursor on, modes as before" terminal_restored
check "the stopped turn is in the ledger as cancelled, its text in the session" stopped_with_text 1

chat_for_signals "Stopped by a closed pane"
tmux kill-pane -t "=$session:"
for _ in $(seq 80); do kill -0 "$(cat "$work/pid")" 2>/dev/null || break; sleep 0.1; done
check "closing the pane (SIGHUP) records the stopped turn too" stopped_with_text 2

chat_for_signals "Stopped by a crash"
kill -SEGV "$(cat "$work/pid")"
check "a crash ends the chat screen with its signal's status (139)" test "$(wait_exit)" = "139"
check "and the crash handler gives the terminal back" terminal_restored

# A first run with no key and no Ollama: the local model, played by the mock, whose every answer
# echoes the placeholder of the personas' prompts, as the tiny demo model does.
rm -f "$work/exit"
tmux kill-session -t "=$session" 2>/dev/null
cat > "$work/local-stand-in" <<SH
#!/bin/sh
exec "$bin/persona-mock" --no-usage --text 'Speed matters, but evidence decides. \\boxed{answer}' "\$@"
SH
chmod +x "$work/local-stand-in"
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env -u OPENAI_API_KEY TERM=xterm-256color LANG=C.UTF-8 PERSONA_LOCAL_SERVER=$work/local-stand-in OLLAMA_HOST=http://127.0.0.1:9 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/demo --mode rounds --rounds 2 \
     'What makes a team decision a good one: speed, consensus or evidence?'; echo \$? > $work/exit; sleep 3"
check "the first run with the local model opens with the welcome" wait_for "Welcome to Persona" 15
check "the header says it is the demo model" wait_for "│ demo model" 3
check "nothing is sent while the welcome is open" bash -c \
    "[ \$('$bin/persona' costs entries --json --home '$work/demo' | grep -o '\"status\"' | wc -l) -eq 0 ]"
tmux send-keys -t "$session" Escape
check "the starter debate starts when it closes" wait_for "round 1/2" 5
check "and runs its two rounds" bash -c "for _ in \$(seq 200); do tmux capture-pane -t $session -p | grep -q 'round 2/2' && break; sleep 0.1; done; \
    for _ in \$(seq 200); do tmux capture-pane -t $session -p | grep -q 'round [0-9]/2' || exit 0; sleep 0.1; done; exit 1"
check "answers that echo the prompts' placeholder are no consensus" bash -c \
    "! tmux capture-pane -t $session -p | grep -qE 'Consensus|stopped early'"
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" C-c
check "it quits with status 0" test "$(wait_exit)" = "0"

# Daily use: copying, the mouse, export, the transcript, an unknown @name, a draft's lines,
# a solo conversation and editing a persona, on a home that has been welcomed.
rm -f "$work/exit"
tmux kill-session -t "=$session" 2>/dev/null
mkdir -p "$work/daily"
cp "$work/home/config.yaml" "$work/daily/config.yaml"
touch "$work/daily/.welcomed"
cat > "$work/editor.sh" <<'SH'
#!/bin/sh
# Stands in for a user's editor: renames the persona in the file it is given, and saves.
sed -i 's/^name: .*/name: The Edited Skeptic/' "$1"
SH
chmod +x "$work/editor.sh"
tmux new-session -d -s "$session" -x 140 -y 32 -c "$work" \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$base/v1 EDITOR=$work/editor.sh \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/daily; echo \$? > $work/exit; sleep 3"
tmux set-option -s set-clipboard on
check "the hint line says how to give the mouse back for selecting" wait_for "Ctrl-Y copy (/mouse off to select)" 10
tmux send-keys -t "$session" "Hello there" Enter
check "a question is answered by all three" bash -c \
    "for _ in \$(seq 100); do [ \$(tmux capture-pane -t $session -p | grep -o '✓ done' | wc -l) -eq 3 ] && exit 0; sleep 0.1; done; exit 1"
tmux delete-buffer 2>/dev/null
tmux send-keys -t "$session" C-y
check "Ctrl-Y copies the focused pane's last answer" wait_for "Copied The Skeptic's last answer" 3
check "into the terminal's clipboard (tmux's buffer)" bash -c "tmux show-buffer 2>/dev/null | grep -q '^Consider the evidence'"
tmux send-keys -t "$session" "/mouse off" Enter
check "/mouse off leaves the mouse to the terminal" wait_for "The mouse is the terminal's" 3
tmux send-keys -t "$session" "/export md $work/daily-export.md" Enter
check "/export writes the session and says where" wait_for "Exported 4 messages to $work/daily-export.md" 3
check "as Markdown with the ledger's figures" grep -q '^total_cost_usd: ' "$work/daily-export.md"
tmux send-keys -t "$session" F7
check "F7 shows the conversation in time order" wait_for "── You · round 1 ──" 3
tmux send-keys -t "$session" "/" "Hello there" Enter
check "/ searches it" wait_for "/Hello there (n: next)" 3
tmux send-keys -t "$session" q
check "and a key closes it" wait_gone "Transcript of" 3
tmux send-keys -t "$session" "@nobody are you there?" Enter
check "an unknown @name gets a hint" wait_for "No one here answers to @nobody" 3
check "and nothing is sent" bash -c "[ \$('$bin/persona' costs entries --json --home '$work/daily' | grep -o '\"status\"' | wc -l) -eq 3 ]"
tmux send-keys -t "$session" C-u "first line" M-Enter "two" Up "X"
check "↑ in a draft of two lines moves to the first line" wait_for "firXst line" 3
tmux send-keys -t "$session" C-a C-k Down C-a C-k BSpace BSpace "/solo skeptic" Enter
check "/solo goes on with one persona" wait_for "Just you and The Skeptic" 3
tmux send-keys -t "$session" "Only you" Enter
check "whose pane alone shows, and answers" bash -c \
    "sleep 1; s=\$(tmux capture-pane -t $session -p); echo \"\$s\" | grep -q '› Only you' && ! echo \"\$s\" | grep -q 'The Optimist'"
tmux send-keys -t "$session" "/all" Enter
check "/all brings the others back" wait_for "The Optimist" 3
tmux send-keys -t "$session" "/edit skeptic" Enter
check "/edit opens the persona in \$EDITOR and reloads it" wait_for "Reloaded" 5
check "on a copy in the home's personas, the bundled file untouched" bash -c \
    "grep -q '^name: The Edited Skeptic' '$work/daily/personas/skeptic.md' && ! grep -q Edited '$root/personas/skeptic.md'"
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" C-c
check "the screen quits with status 0" test "$(wait_exit)" = "0"

# Structured answers: the Analyst answers in its schema, played by a mock whose every answer is
# one JSON object; the pane shows its fields, and F6 the JSON it came as.
next_mock json-mock --delay 0.01 \
    --text '{"message":"Mostly, in moderation.","confidence":0.7,"reasoning":["Cohort studies agree","Confounding remains"]}'
json_base="$mock_base"
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$json_base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/daily --personas analyst; echo \$? > $work/exit; sleep 3"
check "a persona with a schema opens" wait_for "The Analyst" 10
tmux send-keys -t "$session" "Is coffee good for you?" Enter
check "its answer shows as fields" wait_for "confidence 0.7" 10
check "lists as bullets" wait_for "• Confounding remains" 3
tmux send-keys -t "$session" F6
check "F6 shows the JSON it came as" wait_for '{"message":"Mostly, in moderation."' 3
quit_screen

# Tools: a persona with the calculator, played by a mock that calls it until it gets a result;
# the call shows as a line in the pane, then the answer.
next_mock tool-mock --text "35 boxes cost 3850." --tool-call 'calculator={"expression":"35 * 110"}'
tool_base="$mock_base"
mkdir -p "$work/daily/personas"
printf -- '---\nname: The Accountant\ntools: [calculator]\n---\nYou check sums.\n' > "$work/daily/personas/accountant.md"
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$tool_base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/daily --personas accountant; echo \$? > $work/exit; sleep 3"
check "a persona with a tool opens" wait_for "The Accountant" 10
tmux send-keys -t "$session" "What do 35 boxes at 110 cost?" Enter
check "its tool call shows as a line" wait_for '⚙ calculator {"expression":"35 * 110"} → 3850' 10
check "then its answer" wait_for "35 boxes cost 3850." 5
quit_screen

# Batch jobs from the chat screen: /batch sends the prompt to both panes as a job through the mock's
# batch API, /jobs lists it, and the screen says when the answers are in.
next_mock batch-mock
batch_base="$mock_base"
tmux new-session -d -s "$session" -x 120 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$batch_base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/daily --personas skeptic,optimist; echo \$? > $work/exit; sleep 3"
check "two panes open for a batch" wait_for "The Optimist" 10
tmux send-keys -t "$session" "/batch Is tea better than coffee?" Enter
check "/batch submits the prompt as a job" wait_for "2 requests, up to" 10
job="$(screen | grep -o 'Batch job job-[a-z0-9]*' | head -1 | awk '{print $3}')"
tmux send-keys -t "$session" "/jobs" Enter
check "/jobs lists it" wait_for "Batch jobs" 3
check "with the job's id and state" bash -c "sleep 0.5; tmux capture-pane -t $session -p | grep -qE '${job:-no-job}.*(running|ended)'"
tmux send-keys -t "$session" q
check "the screen says when its answers are in" wait_for "is done: 2 answers, 0 failed" 30
check "and persona batch results has both" bash -c \
    "[ \$('$bin/persona' batch results '${job:-none}' --format jsonl --home '$work/daily' | grep -c '\"status\":\"succeeded\"') -eq 2 ]"
quit_screen

# A council on the screen: the header names the stage, each member's pane shows its review under
# labels, the chairman answers in a pane of its own below, and F8 shows the ranking.
next_mock council-mock --delay 0.03 --tokens 40
council_base="$mock_base"
mkdir -p "$work/council"
touch "$work/council/.welcomed"
printf 'default_model: openai:mock+verdict=sorted\nprices:\n  "openai:mock+verdict=sorted": { input: 1.00, output: 2.00 }\n' \
    > "$work/council/config.yaml"
tmux new-session -d -s "$session" -x 150 -y 40 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$council_base/v1 \
     PERSONA_BUNDLED_PERSONAS=$root/personas $bin/persona --home $work/council --personas skeptic,optimist,pragmatist --mode council; \
     echo \$? > $work/exit; sleep 3"
check "three members open for a council" wait_for "The Pragmatist" 10
tmux send-keys -t "$session" "Tea or coffee?" Enter
check "the header names the answers stage" wait_for "council 1/3 · answers" 10
check "then the review stage" wait_for "council 2/3 · review" 15
check "a member's pane shows its review under labels" wait_for "critiques" 15
check "the chairman answers in a pane of its own" wait_for "Chairman · The Skeptic" 20
check "and the council ends" wait_for "F8 shows the ranking" 30
tmux send-keys -t "$session" F8
check "F8 shows the ranking table" wait_for "The last council's ranking" 3
check "with its Borda column" wait_for "Borda" 3
tmux send-keys -t "$session" q
check "a key closes it" wait_gone "The last council's ranking" 3
quit_screen

# Blind mode: the panes come shuffled under labels, with no name, model or pane cost on the
# screen until the vote; the vote names them, changes order between prompts, and is stored.
next_mock blind-mock --delay 0.02 --tokens 20
mkdir -p "$work/blind/personas"
touch "$work/blind/.welcomed"
echo "prices:" > "$work/blind/config.yaml"
for id in ada bea cy; do
    printf -- '---\nname: The %s\nmodel: openai:mock+tokens=20+name=%s\n---\nYou are %s.\n' "${id^}" "$id" "$id" \
        > "$work/blind/personas/$id.md"
    printf '  "openai:mock+tokens=20+name=%s": { input: 1.00, output: 2.00 }\n' "$id" >> "$work/blind/config.yaml"
done
tmux new-session -d -s "$session" -x 150 -y 32 \
    "env TERM=xterm-256color LANG=C.UTF-8 OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL=$mock_base/v1 \
     $bin/persona --home $work/blind --personas ada,bea,cy --blind; echo \$? > $work/exit; sleep 3"
check "blind mode opens with labels, not names" wait_for "Answer C" 10
no_giveaways() {
    local text; text="$(screen)"
    ! grep -qE 'The (Ada|Bea|Cy)|name=|tokens=20' <<<"$text" && ! tail -n +2 <<<"$text" | grep -q '\$'
}
check "no name, model or pane cost shows before a prompt" no_giveaways
orders=()
for prompt in "Tea or coffee?" "Cats or dogs?"; do
    tmux send-keys -t "$session" "$prompt" Enter
    check "the last answers' figures leave the panes" wait_gone "✓ done" 5
    check "the answers to '$prompt' finish" bash -c "for _ in \$(seq 150); do [ \$(tmux capture-pane -t $session -p | grep -o '✓ done' | wc -l) -eq 3 ] && exit 0; sleep 0.1; done; exit 1"
    check "no name, model or pane cost shows before the vote" no_giveaways
    tmux send-keys -t "$session" "/vote B>A" Enter
    check "the vote reveals who answered" wait_for "A was The" 5
    orders+=("$(screen | grep -oE '[ABC] was The [A-Za-z]+' | tr '\n' ' ')")
    check "the panes' titles name them now" wait_for "B · The" 3
done
check "the order changed between prompts" test "${orders[0]}" != "${orders[1]}"
check "both votes are in persona.db, blind" bash -c \
    "[ \$('$bin/persona' votes export --home '$work/blind' | grep -c '\"blind\":true.*\"order\":\\[\\[\"B\"\\],\\[\"A\"\\]\\]') -eq 2 ]"
tmux send-keys -t "$session" F9
check "F9 shows the leaderboard" wait_for "Leaderboard by model · 2 blind votes" 5
tmux send-keys -t "$session" q
quit_screen
check "persona leaderboard rates the three models" bash -c \
    "'$bin/persona' leaderboard --home '$work/blind' | grep -c 'openai:mock+tokens=20+name=' | grep -qx 3"

# persona monitor: `persona ask` processes stream from the mock; the monitor shows their requests
# while in flight, with moving token counts, then today's total as `persona costs` has it.
next_mock monitor --delay 0.05 --tokens 80
mkdir -p "$work/monitor"
cat > "$work/monitor/config.yaml" <<YAML
default_model: openai:mock
budget:
  daily_usd: 1
prices:
  "openai:mock": { input: 1.00, output: 2.00 }
YAML
tmux new-session -d -s "$session" -x 100 -y 30 \
    "env TERM=xterm-256color LANG=C.UTF-8 $bin/persona monitor --home $work/monitor; echo \$? > $work/exit"
tmux set-option -t "$session" remain-on-exit on >/dev/null
check "the monitor waits for a ledger that is not there yet" wait_for "no ledger yet" 5
ask_pids=()
for name in skeptic optimist; do
    env OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL="$mock_base/v1" PERSONA_BUNDLED_PERSONAS="$root/personas" \
        "$bin/persona" ask --home "$work/monitor" --personas "$name" "Why?" > "$work/monitor-$name.out" 2>&1 &
    ask_pids+=($!)
done
check "both requests appear while in flight" wait_for "IN FLIGHT 2" 10
check "each with its source, persona and model" bash -c \
    "tmux capture-pane -t $session -p | grep -q '^ ask .*skeptic .*openai:mock' && tmux capture-pane -t $session -p | grep -q '^ ask .*optimist .*openai:mock'"
skeptic_tokens() { screen | grep -m1 '^ ask .*skeptic' | awk '{print $(NF-1)}' | tr -dc '0-9'; }
first="$(skeptic_tokens)"
sleep 1.2
second="$(skeptic_tokens)"
check "their token counts move ($first then $second)" test "${second:-0}" -gt "${first:-0}"
check "they leave when they end" wait_for "nothing in flight" 15
wait "${ask_pids[@]}"
total="$("$bin/persona" costs summary --home "$work/monitor" | sed -n 's/^total  \(\$[0-9.]*\) .*/\1/p')"
check "today's total is what persona costs says ($total)" wait_for "today $total " 3
monitor_today() { "$bin/persona" monitor --home "$work/monitor" --once --json | grep -o '"today":{"cost":[0-9.]*' | head -1 | cut -d: -f3; }
costs_total() { "$bin/persona" costs summary --home "$work/monitor" --json | grep -o '"total_cost":[0-9.]*' | cut -d: -f2; }
check "its JSON agrees with persona costs --json to the digit ($(monitor_today))" test "$(monitor_today)" = "$(costs_total)"
check "the provider's row counts both requests" bash -c "tmux capture-pane -t $session -p | grep -qE '^ openai +2 '"
tmux send-keys -t "$session" Tab
check "Tab shows the top spenders by persona" wait_for "[persona]" 3
tmux resize-window -t "$session" -x 50 -y 12
check "a small terminal gets a message" wait_for "Terminal too small" 3
tmux resize-window -t "$session" -x 100 -y 30
check "and the monitor comes back on resize" wait_for "IN FLIGHT 0" 3
tmux send-keys -t "$session" q
check "q quits the monitor with status 0" test "$(wait_exit)" = "0"

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
