"""MUSCLE compatibility adapters (deltaeval.compat.muscle) on tiny random Llama models built here."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from deltaeval.compat.muscle import check_disjoint
from deltaeval.errors import UsageError
from deltaeval.types import Example

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_TRAIN = all(
    importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "peft", "tokenizers")
)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="needs torch (pip install torch==2.13.0)")
needs_train = pytest.mark.skipif(
    not HAVE_TRAIN,
    reason='needs torch, transformers and peft (pip install torch==2.13.0, then pip install -e ".[train]")',
)

N_WORDS = 12


def task(first: int, second: int) -> Example:
    """``wA plus wB is ?`` → ``w(A+B mod N)``: a short-answer task with a reference."""
    return Example(
        id=f"s{first}-{second}",
        input=f"w{first} plus w{second} is ?",
        reference=f"w{(first + second) % N_WORDS}",
    )


ALL = [task(a, b) for a in range(N_WORDS) for b in range(0, N_WORDS, 3)]
TRAIN, EVAL = ALL[::2], ALL[1::2]


def build_tiny_llama(folder, *, seed: int = 0) -> None:
    """A 2-layer Llama (hidden 32) with a word-level tokenizer, randomly initialised, saved in ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    vocabulary = " ".join([f"w{i}" for i in range(N_WORDS)] + ["plus", "is", "?"])
    words.train_from_iterator(
        [vocabulary], trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"])
    )
    words.decoder = decoders.WordPiece()  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def train_whole(source, target, examples, *, steps: int, seed: int) -> None:
    """Fine-tune every weight of the tiny model in ``source`` on ``examples``; save it in ``target``."""
    import torch

    from deltaeval.backends import GenerationParams
    from deltaeval.backends.transformers_backend import TransformersBackend
    from deltaeval.compat._lm_data import batch_order, collate, encode_examples
    from deltaeval.compat._lm_models import load_causal_lm
    from deltaeval.compat._lm_train import lm_loss

    backend = TransformersBackend(source, device="cpu")
    data = encode_examples(backend, examples, GenerationParams(), max_length=16)
    torch.manual_seed(seed)
    model = load_causal_lm(source).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for indices in batch_order(len(data), 8, steps, seed):
        loss, _ = lm_loss(model, collate([data[i] for i in indices], backend.tokenizer().pad_token_id))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(str(target))
    backend.tokenizer().save_pretrained(str(target))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny models of one task: ``v1`` and ``v2`` (whole models fine-tuned on different halves of the
    training data, so they disagree), and LoRA task adapters ``v1a`` and ``v2a`` on ``v2``."""
    if not HAVE_TRAIN:
        pytest.skip('needs torch, transformers and peft (pip install -e ".[train]")')
    import torch

    from deltaeval.compat._lm_train import TrainConfig, finetune_lora

    torch.set_num_threads(1)  # tiny tensors: more threads only wait on each other
    root = tmp_path_factory.mktemp("tiny")
    build_tiny_llama(root / "base")
    train_whole(root / "base", root / "v1", TRAIN[::2], steps=40, seed=1)
    train_whole(root / "base", root / "v2", TRAIN[1::2], steps=40, seed=2)
    fast = {"batch_size": 8, "learning_rate": 2e-2, "rank": 4, "alpha": 8, "max_length": 16}
    finetune_lora(f"hf:{root / 'v2'}", TRAIN[::2], root / "v1a", config=TrainConfig(steps=6, seed=1, **fast))
    finetune_lora(f"hf:{root / 'v2'}", TRAIN[1::2], root / "v2a", config=TrainConfig(steps=6, seed=2, **fast))
    return root


# -- the loss, by hand ----------------------------------------------------------------------------


def _softmax(row: list[float]) -> list[float]:
    total = sum(math.exp(v) for v in row)
    return [math.exp(v) / total for v in row]


def _kl(q: list[float], p: list[float]) -> float:
    return sum(qi * (math.log(qi) - math.log(pi)) for qi, pi in zip(q, p, strict=True))


@needs_torch
def test_masked_distillation_loss_by_hand_on_two_tokens():
    import torch

    from deltaeval.compat.muscle import masked_distillation_loss, token_from_old

    # token 1: label 0; old says 0 (right), the new task model says 1 (wrong) -> distil from old
    # token 2: label 2; both say 2 (right) -> distil from the new task model
    # token 3: label -100 (prompt): ignored whatever its logits
    old = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 0.0, 3.0], [9.0, 0.0, 0.0]]])
    task_ = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 9.0, 0.0]]])
    new = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 9.0]]])
    labels = torch.tensor([[0, 2, -100]])

    assert token_from_old(old, task_, labels).tolist() == [[True, False, False]]

    # token 1: q = softmax(old) = (e², 1, 1)/(e² + 2), p = uniform (1/3 each)
    q1 = [math.exp(2) / (math.exp(2) + 2), 1 / (math.exp(2) + 2), 1 / (math.exp(2) + 2)]
    kl1 = sum(q * math.log(q / (1 / 3)) for q in q1)
    # token 2: q = softmax(task) = (1, 1, e)/(e + 2), p = softmax(new) = (e, 1, 1)/(e + 2)
    e = math.e
    q2 = [1 / (e + 2), 1 / (e + 2), e / (e + 2)]
    p2 = [e / (e + 2), 1 / (e + 2), 1 / (e + 2)]
    kl2 = q2[0] * math.log(q2[0] / p2[0]) + q2[2] * math.log(q2[2] / p2[2])  # the middle term is 0
    expected = (kl1 + kl2) / 2
    assert kl1 == pytest.approx(0.433040, abs=1e-6) and kl2 == pytest.approx(0.364175, abs=1e-6)

    loss = masked_distillation_loss(new, old, task_, labels)
    assert float(loss) == pytest.approx(expected, rel=1e-6)

    # cross-entropy to the reference, weight 0.5: -log p(label) per counted token
    ce = (-math.log(1 / 3) - math.log(1 / (e + 2))) / 2
    with_ce = masked_distillation_loss(new, old, task_, labels, ce_weight=0.5)
    assert float(with_ce) == pytest.approx(expected + 0.5 * ce, rel=1e-6)

    # temperature 2: both distributions softened, the KL scaled by 2² = 4
    soft = (
        _kl(_softmax([1.0, 0.0, 0.0]), [1 / 3] * 3) + _kl(_softmax([0, 0, 0.5]), _softmax([0.5, 0, 0]))
    ) / 2
    assert float(masked_distillation_loss(new, old, task_, labels, temperature=2.0)) == pytest.approx(
        4 * soft, rel=1e-6
    )

    # a mask that drops token 1 leaves token 2 alone
    only_second = masked_distillation_loss(new, old, task_, labels, mask=torch.tensor([[False, True, True]]))
    assert float(only_second) == pytest.approx(kl2, rel=1e-6)


@needs_torch
def test_loss_is_zero_when_no_token_counts_and_gradients_reach_the_student():
    import torch

    from deltaeval.compat.muscle import masked_distillation_loss

    new = torch.zeros((1, 2, 3), requires_grad=True)
    old = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    loss = masked_distillation_loss(new, old, old, torch.tensor([[-100, -100]]))
    assert float(loss) == 0.0
    loss = masked_distillation_loss(new, old, old, torch.tensor([[0, -100]]))
    loss.backward()
    assert new.grad is not None and float(new.grad.abs().sum()) > 0


# -- no torch needed -----------------------------------------------------------------------------


def test_few_tokens_from_the_old_model_are_noted_with_what_to_do():
    from deltaeval.compat.muscle import distillation_notes

    # the benchmark's two seed-0 pools: v2 fitted to the training data (24) and not fitted (51)
    (note,) = distillation_notes({"tokens": 1263, "tokens_from_old": 24})
    assert "24 of 1263 answer tokens (1.9%)" in note and "not fine-tuned on" in note
    assert distillation_notes({"tokens": 1263, "tokens_from_old": 51}) == []
    assert distillation_notes({"tokens": 0, "tokens_from_old": 0}) == []
    assert len(distillation_notes({"tokens": 500, "tokens_from_old": 0})) == 1


def test_training_data_that_overlaps_the_evaluation_data_is_refused():
    with pytest.raises(UsageError, match="shares 1 ids"):
        check_disjoint(TRAIN[:3], [TRAIN[0], *EVAL[:2]])
    reworded = Example(id="other", input=TRAIN[1].input, reference="x")
    with pytest.raises(UsageError, match="1 inputs"):
        check_disjoint(TRAIN[:3], [reworded])
    check_disjoint(TRAIN, EVAL)


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    from deltaeval.compat._lm_models import cache_dir

    monkeypatch.setenv("DELTAEVAL_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("DELTAEVAL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "deltaeval"


def test_model_folders_resolve_to_base_and_adapter_and_bad_ones_are_refused(tmp_path):
    from deltaeval.compat._lm_models import resolve_model
    from deltaeval.errors import InputError

    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "../base"})
    )
    ref = resolve_model(f"hf:{tmp_path / 'adapter'}")
    assert ref.base == (tmp_path / "base").resolve() and ref.adapter == (tmp_path / "adapter").resolve()
    whole = resolve_model(str(tmp_path / "base"))
    assert whole.adapter is None and whole.base == whole.folder

    (tmp_path / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "org/hub"})
    )
    with pytest.raises(InputError, match="not a local model folder"):
        resolve_model(f"hf:{tmp_path / 'adapter'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no config\.json"):
        resolve_model(f"hf:{tmp_path / 'empty'}")
    with pytest.raises(InputError, match="not found"):
        resolve_model(f"hf:{tmp_path / 'missing'}")


@pytest.mark.skipif(HAVE_TORCH, reason="checks the message shown when torch is missing")
def test_cli_without_torch_says_what_to_install(tmp_path):
    from deltaeval.cli import main

    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(json.dumps({"id": e.id, "input": e.input, "reference": e.reference}) + "\n" for e in EVAL)
    )
    train = tmp_path / "t.jsonl"
    train.write_text(
        "".join(json.dumps({"id": e.id, "input": e.input, "reference": e.reference}) + "\n" for e in TRAIN)
    )
    code = main(
        ["compat", "muscle", "--old", f"hf:{tmp_path}", "--new", f"hf:{tmp_path}", "--train-data", str(train),
         "--data", str(data), "--out", str(tmp_path / "a"), "--name", "c", "--store", str(tmp_path / "s.db")]
    )  # fmt: skip
    assert code == 2


# -- training ------------------------------------------------------------------------------------


def _adapter_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@needs_train
def test_interrupted_training_resumes_from_its_checkpoint_and_ends_where_an_uninterrupted_run_ends(
    tiny, tmp_path
):
    import torch

    from deltaeval.compat._lm_train import TrainingInterrupted
    from deltaeval.compat.muscle import MuscleConfig, train_muscle

    config = MuscleConfig(
        steps=5, batch_size=4, learning_rate=1e-2, max_length=16, checkpoint_every=2, seed=3
    )
    old, new = f"hf:{tiny / 'v1a'}", f"hf:{tiny / 'v2a'}"  # two adapters on one base
    straight = train_muscle(old, new, TRAIN, tmp_path / "straight", config=config)
    assert straight.resumed_from == 0 and len(straight.losses) == 5

    def stop_at_three(step: int) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="last checkpoint is step 2"):
        train_muscle(old, new, TRAIN, tmp_path / "resumed", config=config, on_step=stop_at_three)
    state = json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2
    assert not (tmp_path / "resumed" / "adapter_model.safetensors").exists()

    resumed = train_muscle(old, new, TRAIN, tmp_path / "resumed", config=config)
    assert resumed.resumed_from == 2
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-5)
    a, b = _adapter_weights(tmp_path / "straight"), _adapter_weights(tmp_path / "resumed")
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key

    # other settings in the same folder: refused, not silently mixed
    with pytest.raises(UsageError, match="other settings"):
        train_muscle(old, new, TRAIN, tmp_path / "resumed", config=MuscleConfig(steps=6, max_length=16))


@needs_train
def test_muscle_adapter_moves_towards_the_old_model_where_it_was_right_and_loads_through_hf(tiny, tmp_path):
    import torch

    from deltaeval.backends.transformers_backend import TransformersBackend
    from deltaeval.compat._lm_data import collate, encode_examples
    from deltaeval.compat._lm_models import load_reference, resolve_model
    from deltaeval.compat.muscle import MuscleConfig, token_from_old, train_muscle

    every_linear = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    config = MuscleConfig(
        steps=40, batch_size=8, learning_rate=3e-2, max_length=16, target_modules=every_linear
    )
    # two whole models: a fresh LoRA on v2, v1 loaded beside it
    result = train_muscle(f"hf:{tiny / 'v1'}", f"hf:{tiny / 'v2'}", TRAIN, tmp_path / "compat", config=config)
    recipe = json.loads((tmp_path / "compat" / "deltaeval-recipe.json").read_text())
    assert recipe["method"] == "muscle" and recipe["adapter_start"].startswith("a fresh LoRA")
    assert result.counters["tokens_from_old"] > 0  # v1 and v2 disagree somewhere on the task
    adapter_config = json.loads((tmp_path / "compat" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str((tiny / "v2").resolve())

    backend = TransformersBackend(tiny / "v2", device="cpu")
    batch = collate(
        encode_examples(backend, TRAIN, _params(), max_length=16), backend.tokenizer().pad_token_id
    )
    labels = batch["labels"][:, 1:]

    def logits(folder):
        model = load_reference(resolve_model(f"hf:{folder}"))
        with torch.no_grad():
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        return out

    old, task_, compat = logits(tiny / "v1"), logits(tiny / "v2"), logits(tmp_path / "compat")
    flipped = token_from_old(old, task_, labels)

    def kl_to_old(student):
        q = torch.log_softmax(old[flipped], -1)
        return float((q.exp() * (q - torch.log_softmax(student[flipped], -1))).sum(-1).mean())

    assert kl_to_old(compat) < kl_to_old(task_) / 2  # the flipped tokens moved towards the old model
    right_old = (old.argmax(-1) == labels)[flipped]
    assert int(right_old.sum()) == int(flipped.sum())  # the old model is right on every flipped token

    def p_reference(model_logits):
        return float(torch.softmax(model_logits[flipped], -1).gather(1, labels[flipped][:, None]).mean())

    # the reference answer got likelier where only the old model had it (measured: 0.037 -> 0.097
    # after 40 steps; whether the argmax flips too within 40 steps depends on the random init)
    assert p_reference(compat) > 1.5 * p_reference(task_)

    # hf:FOLDER of the adapter answers as base + adapter (merged), with its own cache identity
    compat_backend = TransformersBackend(tmp_path / "compat", device="cpu")
    assert compat_backend.base_path == (tiny / "v2").resolve()
    assert compat_backend.cache_identity()["sha"] != backend.cache_identity()["sha"]
    answers = compat_backend.generate(EVAL[:3], _params())
    assert all(o.error is None and o.text is not None for o in answers)


def _params():
    from deltaeval.backends import GenerationParams

    return GenerationParams(max_tokens=4)


@needs_train
def test_cli_trains_writes_a_run_with_its_recipe_and_compare_reads_it(tiny, tmp_path):
    from deltaeval.cli import main
    from deltaeval.store import Store

    def write(path, examples):
        path.write_text(
            "".join(
                json.dumps({"id": e.id, "input": e.input, "reference": e.reference}) + "\n" for e in examples
            )
        )

    write(tmp_path / "train.jsonl", TRAIN)
    write(tmp_path / "eval.jsonl", EVAL)
    store = tmp_path / "runs.db"
    # the old model a whole model, the new one a task adapter (the compat adapter starts from it)
    args = ["compat", "muscle", "--old", f"hf:{tiny / 'v1'}", "--new", f"hf:{tiny / 'v2a'}",
            "--train-data", str(tmp_path / "train.jsonl"), "--data", str(tmp_path / "eval.jsonl"),
            "--out", str(tmp_path / "adapter"), "--name", "v2-compat", "--steps", "6", "--batch-size", "8",
            "--learning-rate", "0.02", "--max-length", "16", "--max-tokens", "4",
            "--store", str(store), "--quiet"]  # fmt: skip
    assert main([*args, "--json", str(tmp_path / "muscle.json")]) == 0
    written = json.loads((tmp_path / "muscle.json").read_text())
    assert written["schema"] == "deltaeval.compat.muscle"
    assert written["muscle"]["n"] == len(EVAL) and written["training"]["steps"] == 6
    assert written["muscle"]["compat"]["name"] == "v2-compat"
    training = written["training"]
    few = training["tokens_from_old"] < 0.02 * training["tokens"]
    assert len(training["notes"]) == int(few)  # the note comes exactly when few tokens were distilled
    low, high = written["muscle"]["compat"]["nfr_ci"]
    assert low <= written["muscle"]["compat"]["nfr"] <= high
    with Store(store) as db:
        run = db.load_run("v2-compat")
        names = {info.name for info in db.list_runs()}
    assert {"v2-compat", "v2-compat.old", "v2-compat.new"} <= names
    recipe = run.params["compat"]
    assert recipe["method"] == "muscle" and recipe["parameters"]["steps"] == 6
    assert set(recipe["sources"]) == {"old", "new"}
    assert [o.example_id for o in run.outputs] == [e.id for e in EVAL]

    report = tmp_path / "report.json"
    assert main(["compare", "v2-compat.old", "v2-compat", "--store", str(store), "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["flips"]["n"] == len(EVAL)
    assert data["flips"]["nfr_ci"][0] <= data["flips"]["nfr"] <= data["flips"]["nfr_ci"][1]

    # the same command again: training resumes at its end, every generation comes from the cache
    assert main([*args, "--overwrite"]) == 0


@needs_train
def test_a_stored_run_of_another_origin_is_not_replaced_by_the_old_models_answers(tmp_path, capsys):
    from deltaeval.cli import main
    from deltaeval.store import Store
    from deltaeval.types import Output, Run

    store = tmp_path / "runs.db"
    with Store(store) as db:
        db.save_run(
            Run(name="v1", examples=tuple(EVAL[:2]), outputs=tuple(Output(e.id, "w0") for e in EVAL[:2]))
        )
    for name, examples in (("train.jsonl", TRAIN), ("eval.jsonl", EVAL)):
        (tmp_path / name).write_text(
            "".join(
                json.dumps({"id": e.id, "input": e.input, "reference": e.reference}) + "\n" for e in examples
            )
        )
    code = main(
        ["compat", "muscle", "--old", "hf:nowhere/v1", "--new", "hf:nowhere/v2", "--old-name", "v1",
         "--train-data", str(tmp_path / "train.jsonl"), "--data", str(tmp_path / "eval.jsonl"),
         "--out", str(tmp_path / "adapter"), "--name", "c", "--store", str(store)]
    )  # fmt: skip
    assert code == 2
    assert "'v1' is already stored, not made by compat muscle" in capsys.readouterr().err
    assert not (tmp_path / "adapter").exists()
