#!/usr/bin/env bash
# minireason, the whole recipe at toy scale: problems -> teacher rollouts -> verification -> curation
# -> mid-training -> SFT -> Rollout DPO -> GRPO, with an evaluation after every stage.
#
# Each step below is the exact command a user types; replay them one by one, or swap in a real teacher
# (`--teacher openai:MODEL --base-url ...` or `vllm:PATH`) and a real student (`--model PATH` with the
# qwen-0.5b or phi-4-mini configs). Runs offline on 2 CPU cores in about ten minutes.
#
#   make demo                                # or: bash scripts/demo.sh
#   DEMO_SCALE=small bash scripts/demo.sh    # the reduced demo tests/test_demo.py runs (a smoke run)
#   LAKE=/tmp/lake OUT=/tmp/demo bash scripts/demo.sh   # elsewhere than ./lake and ./demo
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

LAKE=${LAKE:-lake}          # the default lake of every command
OUT=${OUT:-demo}            # checkpoints, held-out set, export, timings
SCALE=${DEMO_SCALE:-full}
if [[ $SCALE == small ]]; then
  N_TRAIN=500; N_TEST=20; SAMPLES=4; K=1; MID=8; SFT=4; DPO=2; GRPO=1
else
  N_TRAIN=6000; N_TEST=200; SAMPLES=4; K=4; MID=550; SFT=200; DPO=20; GRPO=10
fi

# Start clean, but never delete a lake the demo did not make: it marks its own with .demo-lake.
if [[ -e $LAKE && ! -e $LAKE/.demo-lake ]] && [[ -n $(ls -A "$LAKE" 2>/dev/null) ]]; then
  echo "error: $LAKE exists and was not made by the demo; move it or run with LAKE=/another/path" >&2
  exit 2
fi
rm -rf "$LAKE" "$OUT"; mkdir -p "$LAKE" "$OUT"; : > "$LAKE/.demo-lake"
TIMES="$OUT/step_times.tsv"; : > "$TIMES"

step() {  # print the command, run it, record its wall time
  local name=$1; shift
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  local t0=$SECONDS
  "$@"
  printf '%s\t%s\n' "$name" "$((SECONDS - t0))" >> "$TIMES"
}

# 1. Problems: training set and a disjoint held-out test set (same generator, other seed, excluded ids).
step problems  synth problems --source builtin:chain --n "$N_TRAIN" --seed 0 --lake "$LAKE"
step heldout   synth problems --source builtin:chain --n "$N_TEST" --seed 1 --exclude "$LAKE" --lake "$OUT/heldout"
step heldout   curate sql "select problem, answer, level from problems order by problem_id" \
                 --lake "$OUT/heldout" --format json --out "$OUT/heldout.jsonl"

# 2. Teacher rollouts (the procedural teacher stands in for DeepSeek-R1), several per problem.
step generate  synth generate --teacher procedural --samples "$SAMPLES" --run demo --lake "$LAKE"
step generate  curate sql "select p.level, count(*) as samples, round(avg(t.completion_tokens), 1) as mean_tokens,
                 round(avg((t.finish_reason = 'length')::int), 3) as length_share
                 from traces t join problems p using (problem_id) group by 1 order by 1" --lake "$LAKE"

# 3. Curation: verify -> pass rates -> dedup -> decontamination -> filters -> the four stage views.
step curate    curate run --lake "$LAKE"

# 4. The student: built from a config with a tokenizer trained on the corpus (mid saves it untrained as
#    the base); then the four stages, each evaluated on the held-out set with the paper's protocol.
E=(--benchmark "$OUT/heldout.jsonl" --samples "$K" --max-tokens 64 --batch-size 256 --lake "$LAKE")
step mid       train mid  --config train/configs/mid-demo.yaml  --lake "$LAKE" --save_base "$OUT/base" \
                 --output_dir "$OUT/mid" --max_steps "$MID"
step eval      train eval --model "$OUT/base" --stage base "${E[@]}"
step eval      train eval --model "$OUT/mid"  --stage mid  "${E[@]}"
step sft       train sft  --config train/configs/sft-demo.yaml  --lake "$LAKE" --model "$OUT/mid" \
                 --output_dir "$OUT/sft" --max_steps "$SFT"
step eval      train eval --model "$OUT/sft"  --stage sft  "${E[@]}"
step dpo       train dpo  --config train/configs/dpo-demo.yaml  --lake "$LAKE" --model "$OUT/sft" \
                 --output_dir "$OUT/dpo" --max_steps "$DPO"
step eval      train eval --model "$OUT/dpo"  --stage dpo  "${E[@]}"
step grpo      train grpo --config train/configs/grpo-demo.yaml --lake "$LAKE" --model "$OUT/dpo" \
                 --output_dir "$OUT/grpo" --max_steps "$GRPO"
step eval      train eval --model "$OUT/grpo" --stage grpo "${E[@]}"

# 5. The stage table (like the paper's: base, +mid, +SFT, +DPO, +RL) and the published dataset folder.
step table     curate sql "select stage, benchmark, k, n, round(pass_at_1, 3) as pass_at_1, round(pass_at_1_se, 3) as se,
                 round(maj_at_k, 3) as maj_at_k, protocol from evals order by created_at" --lake "$LAKE"
# 6. Why the stages help or not, from the lake: pass@1 per level after each stage (train eval keeps every
#    response in eval_samples), and what the wrong answers got wrong. For these chains a response "misread
#    a term" when the +d/*d terms of its working differ from the question's; otherwise a step's result is
#    wrong. Rollout DPO can only teach against the mistakes the teacher's rejected rollouts make.
step analysis  curate sql "select stage, round(avg(correct::int) filter (where level = 1), 3) as level_1,
                 round(avg(correct::int) filter (where level = 2), 3) as level_2,
                 round(avg(correct::int) filter (where level = 3), 3) as level_3,
                 round(avg(correct::int) filter (where level = 4), 3) as level_4,
                 round(avg(correct::int) filter (where level = 5), 3) as level_5
                 from eval_samples group by stage order by min(created_at)" --lake "$LAKE"
step analysis  curate sql "select who, wrong, misread_a_term, wrong - misread_a_term as wrong_step_result from (
                 select 0 as o, null as t, 'teacher rollouts' as who, count(*) filter (where not v.correct) as wrong,
                   count(*) filter (where not v.correct and regexp_extract_all(coalesce(t.reasoning, '') || t.completion, '[+*][0-9]')
                     <> regexp_extract_all(p.problem, '[+*][0-9]')) as misread_a_term
                 from traces t join verdicts v using (trace_id) join problems p on p.problem_id = t.problem_id
                 union all
                 select 1, min(created_at), 'student after ' || stage, count(*) filter (where not correct),
                   count(*) filter (where not correct and regexp_extract_all(completion, '[+*][0-9]')
                     <> regexp_extract_all(problem, '[+*][0-9]'))
                 from eval_samples where stage <> 'base' group by stage) order by o, t" --lake "$LAKE"
step export    curate export --view sft --view dpo --view rl --view mid --out "$OUT/export" --lake "$LAKE"

printf '\nwall time per step (s):\n'
awk -F'\t' '{s[$1]+=$2; t+=$2; if (!($1 in o)) {o[$1]=++n; k[n]=$1}}
  END {for (i=1;i<=n;i++) printf "  %-9s %4d\n", k[i], s[k[i]]; printf "  %-9s %4d\n", "total", t}' "$TIMES"
