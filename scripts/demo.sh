#!/usr/bin/env bash
# minireason, the whole recipe at toy scale: problems -> teacher rollouts -> verification -> curation
# -> mid-training -> SFT -> Rollout DPO -> GRPO, with an evaluation after every stage, and an answer-only
# student trained on the same problems for the same number of steps.
#
# Each step below is the exact command a user types; replay them one by one, or swap in a real teacher
# (`--teacher openai:MODEL --base-url ...` or `vllm:PATH`) and a real student (`--model PATH` with the
# qwen-0.5b or phi-4-mini configs). Runs offline on 2 CPU cores in under ten minutes.
#
# The task is built so that every stage has something to do (README "The demo", docs/demo.md): the teacher
# (`procedural:styles`) works a chain in steps, in its head, or by guessing; its wrong rollouts are nearly
# all guesses (Rollout DPO learns to avoid them), and its mental rollouts are always right but beyond the
# student (only GRPO, on the student's own rollouts, sees that).
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
  N_TRAIN=6000; N_TEST=400; SAMPLES=4; K=4; MID=750; SFT=350; DPO=30; GRPO=20
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

# 1. Problems: chains of 2-6 digits (levels 1-3). The training set takes every level-1 chain there is
#    (1,560), so the held-out set (same generator, other seed, training ids excluded) has levels 2 and 3.
#    The prompts carry no instruction: it would be ~60% of every row's tokens on 2 cores.
step problems  synth problems --source builtin:chain --levels 1,2,3 --n "$N_TRAIN" --seed 0 --lake "$LAKE"
step heldout   synth problems --source builtin:chain --levels 2,3 --n "$N_TEST" --seed 1 --exclude "$LAKE" \
                 --lake "$OUT/heldout"
step heldout   curate sql "select problem, answer, level from problems order by problem_id" \
                 --lake "$OUT/heldout" --format json --out "$OUT/heldout.jsonl"

# 2. Teacher rollouts, several per problem: the procedural teacher stands in for DeepSeek-R1, working
#    each chain in one of three styles (synth/teachers/styles.py).
step generate  synth generate --teacher procedural:styles --samples "$SAMPLES" --instruction "" --run demo --lake "$LAKE"
# 3. Curation: verify -> pass rates -> dedup -> decontamination -> filters -> the four stage views. The
#    demo's views keep every correct rollout for SFT and pick DPO's chosen side in sample order
#    (scripts/demo-curate.yaml), so both keep the teacher's mix of styles rather than its shortest ones.
step curate    curate run --lake "$LAKE" --config scripts/demo-curate.yaml
# What each style looks like and how often the teacher is right with it, from the lake:
step curate    curate sql "select case when reasoning like 'Guess%' then 'guess' when reasoning like '%in my head%'
                 then 'mental' else 'steps' end as style, count(*) as rollouts, round(avg(v.correct::int), 3) as correct,
                 min(reasoning || ' | ' || completion) as example from traces join verdicts v using (trace_id)
                 group by 1 order by 2 desc" --lake "$LAKE"

# 4. The student: built from a config with a tokenizer trained on the corpus (mid saves it untrained as
#    the base); then the four stages, each evaluated on the held-out set with the paper's protocol
#    (k samples per problem, each with its own seed, temperature 0.6, top-p 0.95).
E=(--benchmark "$OUT/heldout.jsonl" --samples "$K" --max-tokens 64 --batch-size 256 --instruction "" --lake "$LAKE")
step mid       train mid  --config train/configs/mid-demo.yaml  --lake "$LAKE" --save_base "$OUT/base" \
                 --output_dir "$OUT/mid" --max_steps "$MID"
step eval      train eval --model "$OUT/base" --stage base "${E[@]}"
# The answer-only student: the same problems and number of steps as mid + SFT, from the same untrained
# base, with the reasoning cut from every target (the answer alone, `\boxed{d}`).
mkdir -p "$OUT/answer_only"
step answer    curate sql "select messages from (select distinct list_transform(messages, lambda m: struct_pack(
                 role := m.role, content := case when m.role = 'assistant'
                 then regexp_replace(m.content, '^<think>[\s\S]*</think>\s*', '') else m.content end)) as messages
                 from sft) order by messages[1].content" --lake "$LAKE" --format parquet --out "$OUT/answer_only/rows.parquet"
step answer    train sft  --config train/configs/sft-demo.yaml --lake "$LAKE" --model "$OUT/base" --data "$OUT/answer_only" \
                 --output_dir "$OUT/answer-only" --max_steps "$((MID + SFT))" --learning_rate 2e-3
step eval      train eval --model "$OUT/answer-only" --stage answer-only "${E[@]}"
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

# 5. The stage table (like the paper's: base, +mid, +SFT, +DPO, +RL, and the answer-only student), then
#    each step's gain with its standard error, paired over the held-out problems (each problem's pass
#    rate after the stage minus before it): a gain beyond 2 s.e. is not sampling noise.
step table     curate sql "select stage, benchmark, k, n, round(pass_at_1, 3) as pass_at_1, round(pass_at_1_se, 3) as se,
                 round(maj_at_k, 3) as maj_at_k, protocol from evals order by created_at" --lake "$LAKE"
step table     curate sql "with rate as (select stage, problem_id, avg(correct::int) as r from eval_samples group by all),
                 steps(i, stage, before) as (values (1, 'mid', 'base'), (2, 'sft', 'mid'), (3, 'dpo', 'sft'),
                   (4, 'grpo', 'dpo'), (5, 'sft', 'answer-only'))
                 select s.stage || ' vs ' || s.before as step, count(*) as problems, round(avg(a.r - b.r), 3) as gain,
                   round(stddev_samp(a.r - b.r) / sqrt(count(*)), 3) as se,
                   avg(a.r - b.r) > 2 * stddev_samp(a.r - b.r) / sqrt(count(*)) as beyond_2_se
                 from steps s join rate a on a.stage = s.stage join rate b on b.stage = s.before and b.problem_id = a.problem_id
                 group by s.i, s.stage, s.before order by s.i" --lake "$LAKE"
# 6. Why each stage pays, from the lake (train eval keeps every response in eval_samples): how often the
#    student answers in each style after each stage, and how often it is right with it. Rollout DPO
#    removes the guesses (the teacher's wrong rollouts are guesses); GRPO removes the mental answers
#    (the teacher is always right with them, the student is not: only its own rollouts show it).
step analysis  curate sql "with s as (select stage, min(created_at) over (partition by stage) as t, correct,
                 case when completion like '%Guess%' then 'guess' when completion like '%in my head%' then 'mental'
                 else 'steps' end as style from eval_samples where stage <> 'base')
                 select stage, round(avg((style = 'steps')::int), 3) as steps, round(avg(correct::int) filter (where style = 'steps'), 3) as steps_right,
                   round(avg((style = 'mental')::int), 3) as mental, round(avg(correct::int) filter (where style = 'mental'), 3) as mental_right,
                   round(avg((style = 'guess')::int), 3) as guess, round(avg(correct::int) filter (where style = 'guess'), 3) as guess_right
                 from s group by stage, t order by t" --lake "$LAKE"
step export    curate export --view sft --view dpo --view rl --view mid --out "$OUT/export" --lake "$LAKE"

printf '\nwall time per step (s):\n'
awk -F'\t' '{s[$1]+=$2; t+=$2; if (!($1 in o)) {o[$1]=++n; k[n]=$1}}
  END {for (i=1;i<=n;i++) printf "  %-9s %4d\n", k[i], s[k[i]]; printf "  %-9s %4d\n", "total", t}' "$TIMES"
