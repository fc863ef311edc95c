"""`make setup`: builds the sentence encoder (build/encoder/) from the pinned weights package.

1. Checks the weights' SHA-256 against bot/nlp/encoder.yml; any other file is refused.
2. Writes BERT's forward pass as an ONNX graph (float32).
3. Quantises its matrix products to int8 (ONNX Runtime dynamic quantisation, one scale per
   output column) when the settings ask.
4. Encodes the check sentences below with the built model and with the plain float64 numpy
   reference; fails unless every pair agrees (cosine >= min_cosine; 0.9999 for float32).
5. Writes meta.json: the checksums, settings and the agreement found.

Nothing is downloaded: the weights come from the installed package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from rasa_addons import encoder as enc

#: Short and long, tidy and messy: the kinds of text the encoder will see.
CHECK_SENTENCES = [
    "hi",
    "does it hurt?",
    "what is dry needling",
    "my physio wants to do DN on my traps tmrw, is it safe if im on eliquis??",
    "I've had a stiff neck for three months from sitting at a desk all day and my PT suggested "
    "putting thin needles into the knots in my shoulder. How many sessions does it usually take "
    "before people notice a difference, and how long does the relief last?",
    "¿duele la punción seca?",
    "ألم في الصدر",
    "x" * 400,
]
FLOAT_MIN_COSINE = 0.9999


def build(out: Path, settings: enc.Settings) -> dict:
    import onnx

    model_dir = enc.package_model_dir(settings.package)
    enc.verify_files(model_dir, settings.files)
    weights = enc.load_weights(model_dir)
    config = enc.load_config(model_dir)
    tmp = Path(tempfile.mkdtemp(prefix="needlewise-encoder-"))
    try:
        float_path = tmp / "float.onnx"
        onnx.save(enc.build_graph(weights, config), str(float_path))
        shutil.copy(model_dir / enc.TOKENIZER_FILE, tmp / enc.TOKENIZER_FILE)
        meta = {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "package": settings.package,
            "sha256": settings.files,
            "max_tokens": settings.max_tokens,
            "threads": settings.threads,
        }
        tokenizer = enc.load_tokenizer(tmp / enc.TOKENIZER_FILE, settings.max_tokens)
        references = [enc.reference_embedding(weights, config, tokenizer.encode(s).ids) for s in CHECK_SENTENCES]

        def agreement(model_path: Path) -> float:
            (tmp / enc.MODEL_FILE).unlink(missing_ok=True)
            shutil.copy(model_path, tmp / enc.MODEL_FILE)
            (tmp / enc.META_FILE).write_text(json.dumps(meta), encoding="utf-8")
            built = enc.SentenceEncoder(tmp)
            return min(enc.cosine(built.encode(s), ref) for s, ref in zip(CHECK_SENTENCES, references, strict=True))

        float_cosine = agreement(float_path)
        if float_cosine < FLOAT_MIN_COSINE:
            raise enc.EncoderError(f"the float ONNX graph disagrees with the reference: cosine {float_cosine:.6f}")
        meta["float_cosine_min"] = round(float_cosine, 6)
        chosen = float_path
        if settings.quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            int8_path = tmp / "int8.onnx"
            quantize_dynamic(
                str(float_path),
                str(int8_path),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
            )
            int8_cosine = agreement(int8_path)
            if int8_cosine < settings.min_cosine:
                raise enc.EncoderError(
                    f"int8 vectors differ from the reference (cosine {int8_cosine:.4f} < {settings.min_cosine}): "
                    "set quantize: false in bot/nlp/encoder.yml"
                )
            meta["int8_cosine_min"] = round(int8_cosine, 6)
            chosen = int8_path
        meta["weights"] = "int8" if chosen.name.startswith("int8") else "float32"
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(chosen, out / enc.MODEL_FILE)
        shutil.copy(tmp / enc.TOKENIZER_FILE, out / enc.TOKENIZER_FILE)
        (out / enc.META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=enc.BUILD_DIR)
    parser.add_argument("--settings", type=Path, default=enc.SETTINGS_FILE)
    args = parser.parse_args(argv)
    try:
        meta = build(args.out, enc.Settings.load(args.settings))
    except enc.EncoderError as error:
        print(f"Could not build the sentence encoder: {error}", file=sys.stderr)
        return 1
    agreement = meta.get("int8_cosine_min", meta["float_cosine_min"])
    print(
        f"Built the sentence encoder ({meta['weights']}, agrees with the reference to cosine {agreement}) in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
