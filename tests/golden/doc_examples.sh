#!/bin/sh
# doc_examples.sh NNC DOC ROOT — every ```nn block of DOC must check cleanly
# (blocks meant to be wrong are fenced ```nn-error instead).
# A block with a model is checked as it is.  A block without one is a
# fragment: its lines go into the body of the document's "model demo" just
# before "output logits" (a block of only 'layer' lines goes before the
# model of the next fragment), as docs/language.md section 7 describes.
# A train-block line (data =, optimizer =, schedule =) replaces its
# setting in the example whose data source it uses (ROOT/examples).
nnc=$1 doc=$2 root=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk -v dir="$dir" '/^```nn$/ { n++; f = sprintf("%s/b%03d.nn", dir, n); printf "" > f; inb = 1; next }
                   /^```/  { inb = 0; next }
                   inb     { print > f }' "$doc"
demo=$(grep -l '^model demo' "$dir"/b*.nn | head -n 1)
[ -n "$demo" ] || { echo "no 'model demo' block in $doc"; exit 1; }
fail=0 count=0 prelude=""
for b in "$dir"/b*.nn; do
    if grep -q '^ *model ' "$b"; then
        prog=$b
    elif grep -qE '^(data|optimizer|schedule) *=' "$b"; then
        key=$(sed -n '1s/^\([a-z]*\).*/\1/p' "$b")
        case $(cat "$b") in
            *csv\(*) example=xor ;;
            *bpe\(*) example=shakespeare_bpe ;;
            *text\(*) example=shakespeare ;;
            *) example=mnist_mlp ;;
        esac
        prog=$dir/train.nn
        # drop the example's own line for the setting, then add the fragment's
        awk -v key="$key" -v frag="$b" '
            $1 == key && $2 == "=" { next }
            /^train *\{/ { print; while ((getline l < frag) > 0) print "    " l; next }
            { print }' "$root/examples/$example.nn" > "$prog"
    elif ! grep -qv '^layer ' "$b"; then
        prelude=$b
        continue
    else
        prog=$dir/fragment.nn
        { [ -n "$prelude" ] && cat "$prelude"
          awk -v frag="$b" '/^    output logits/ { while ((getline l < frag) > 0) print "    " l } { print }' "$demo"
        } > "$prog"
        prelude=""
    fi
    count=$((count + 1))
    if ! NO_COLOR=1 "$nnc" --check "$prog" > "$dir/out" 2>&1; then
        echo "example $(basename "$b") of $doc does not check:"
        cat "$b"
        cat "$dir/out"
        fail=1
    fi
done
echo "$count examples checked"
exit $fail
