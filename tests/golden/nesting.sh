#!/bin/sh
# nesting.sh NNC — expressions at the nesting limit (AST_MAX_DEPTH, 1000
# levels) and one past it, each kind of level: a chain of binary operators,
# calls, unary minus, subscripts, lists (one past it only), and levels added up through a layer's
# body.  At the limit every stage runs (--predict gives the numbers written
# below, --dump-ir=ast and =plan exit 0; under the sanitizers this is the
# check that the recursive walks fit an 8 MB stack with their larger
# frames); one past it, --check exits 1 with exactly the one error below.
# The files are written here: their lines are thousands of characters.
nnc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
rep() { awk -v s="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'; }
model() {  # model FILE EXPR [LAYER-BODY]: one input x: f32[4], output EXPR
    { [ -n "$3" ] && echo "layer f(x) { return $3 }"
      echo "model m { input x: f32[4] output $2 }"; } > "$tmp/$1.nn"
}
# at the limit, with what --predict must print for x = 1, 2, 3, -4
at_limit() {  # NAME EXPECTED
    (cd "$tmp" && "$nnc" --predict --input x=1,2,3,-4 "$1.nn") > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "$1: --predict"; }
    [ "$(cat "$tmp/out")" = "$2" ] || fail "$1: expected '$2', got '$(cat "$tmp/out")'"
    for stage in ast plan; do
        (cd "$tmp" && "$nnc" --dump-ir=$stage "$1.nn") > /dev/null 2> "$tmp/err" || { cat "$tmp/err"; fail "$1: --dump-ir=$stage"; }
    done
    echo "$1: $2"
}
past_limit() {  # NAME EXPECTED-FIRST-LINE
    (cd "$tmp" && NO_COLOR=1 "$nnc" --check "$1.nn") > "$tmp/out" 2> "$tmp/err"; got=$?
    [ "$got" = 1 ] || { cat "$tmp/err"; fail "$1: exit status $got, expected 1"; }
    [ "$(sed -n 1p "$tmp/err")" = "$2" ] || fail "$1: got '$(sed -n 1p "$tmp/err" | cut -c1-300)'"
    [ "$(grep -c 'error:' "$tmp/err")" = 1 ] || { cat "$tmp/err"; fail "$1: more than one error"; }
    echo "$1 refused"
}
levels="more than 1000 levels of operators, calls, unary minus, subscripts, ranges and lists"

model add1000 "x$(rep ' + x' 1000)"
at_limit add1000 "1001 2002 3003 -4004"
model add1001 "x$(rep ' + x' 1001)"
past_limit add1001 "add1001.nn:1:4036: error: expression nested too deeply: $levels"

model relu1000 "$(rep 'relu(' 1000)x$(rep ')' 1000)"
at_limit relu1000 "1 2 3 0"
model relu1001 "$(rep 'relu(' 1001)x$(rep ')' 1001)"
past_limit relu1001 "relu1001.nn:1:34: error: expression nested too deeply: $levels"

model neg1000 "$(rep '-' 1000)x"
at_limit neg1000 "1 2 3 -4"
model neg1001 "$(rep '-' 1001)x"
past_limit neg1001 "neg1001.nn:1:34: error: expression nested too deeply: $levels"

model sub1000 "x$(rep '[:]' 1000)"
at_limit sub1000 "1 2 3 -4"
model sub1001 "x$(rep '[:]' 1001)"
past_limit sub1001 "sub1001.nn:1:3037: error: expression nested too deeply: $levels"

# lists count too (past the limit only: a literal of 1000 axes is refused for its rank)
model list1001 "$(rep '[' 1001)1$(rep ']' 1001)"
past_limit list1001 "list1001.nn:1:34: error: expression nested too deeply: $levels"

# f(x) is one level, its body the rest: 1 + 999 at the limit, 1 + 1000 past it
model layer1000 "f(x)" "$(rep 'relu(' 999)x$(rep ')' 999)"
at_limit layer1000 "1 2 3 0"
model layer1001 "f(x)" "$(rep 'relu(' 1000)x$(rep ')' 1000)"
past_limit layer1001 "layer1001.nn:2:34: error: expression nested too deeply through the layers it uses: $levels in all"
