/**
 * The README.md model card of an exported directory (hf_export.ts): what the model is, how it was trained (the run's
 * config.yaml and trainer_state.json when the checkpoint has them), and the Python that loads it with LLaDA's code.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelConfig } from '../model/config.ts';

export interface CardInfo {
  /** The checkpoint directory exported. */
  source: string;
  cfg: ModelConfig;
  /** torch dtype name of the weights. */
  dtype: string;
  shards: number;
  totalBytes: number;
  codeRepo: string;
}

/** "How it was trained": the trainer state (step, tokens) and the run's resolved config, when they exist. */
function trainingSection(source: string): string {
  const lines: string[] = [];
  const stateFile = path.join(source, 'trainer_state.json');
  if (fs.existsSync(stateFile)) {
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { step?: number; tokens_seen?: number; optimizer_steps?: number };
    const parts = [`step ${state.step}`];
    if (state.tokens_seen !== undefined) parts.push(`${state.tokens_seen} training tokens`);
    if (state.optimizer_steps !== undefined) parts.push(`${state.optimizer_steps} optimizer steps`);
    lines.push(`Checkpoint \`${path.basename(source)}\` of its run: ${parts.join(', ')}.`, '');
  }
  const runConfig = path.join(path.dirname(source), 'config.yaml');
  if (fs.existsSync(runConfig)) {
    lines.push("The run's resolved config (`config.yaml` of the run directory):", '', '```yaml', fs.readFileSync(runConfig, 'utf8').trimEnd(), '```', '');
  }
  if (lines.length === 0) lines.push('The checkpoint carries no trainer state or run config (it was itself imported, or saved by hand).', '');
  return lines.join('\n');
}

export function writeModelCard(dir: string, info: CardInfo): void {
  const { cfg } = info;
  const params = cfg.vocab_size * cfg.d_model * 2 + cfg.n_layers * (4 * cfg.d_model ** 2 + 3 * cfg.d_model * cfg.mlp_hidden + 2 * cfg.d_model) + cfg.d_model;
  const text = `---
library_name: transformers
tags:
  - masked-diffusion
  - llada
  - diffusion-rl-tfjs
---

# A LLaDA-style masked-diffusion model trained with diffusion-rl-tfjs

A ${params.toLocaleString('en-US')}-parameter masked-diffusion language model with LLaDA's architecture (bidirectional
transformer, RMSNorm, RoPE θ = ${cfg.rope_theta}, SwiGLU MLP, untied LM head): d_model ${cfg.d_model}, ${cfg.n_layers} layers,
${cfg.n_heads} heads, MLP ${cfg.mlp_hidden}, vocabulary ${cfg.vocab_size}, max_sequence_length ${cfg.max_seq_len}. Weights:
${info.dtype}, ${info.shards} file(s), ${info.totalBytes} bytes, with LLaDA's tensor names.

Token ids: pad ${cfg.pad_token_id}, eos ${cfg.eos_token_id}, mask ${cfg.mask_token_id} (\`mask_token_id\` in config.json; LLaDA-8B's
is 126336, so pass this one to any sampler or trainer that takes a mask id).

## How it was trained

Trained in TypeScript on TensorFlow.js with diffusion-rl-tfjs (SFT and/or diffu-GRPO) and exported with
\`yarn export\` from \`${info.source}\`.

${trainingSection(info.source)}
## Loading it

config.json's \`auto_map\` points at LLaDA's modeling code on the Hub (\`${info.codeRepo}\`), so:

\`\`\`python
import torch
from transformers import AutoModel, AutoTokenizer
model = AutoModel.from_pretrained("PATH/TO/THIS/DIR", trust_remote_code=True, torch_dtype=torch.float32)
tokenizer = AutoTokenizer.from_pretrained("PATH/TO/THIS/DIR")
ids = torch.tensor([tokenizer.encode("...prompt...")])
logits = model(ids).logits  # [1, L, ${cfg.vocab_size}]
\`\`\`

Offline, copy \`configuration_llada.py\` and \`modeling_llada.py\` from \`${info.codeRepo}\` into this directory and
change \`auto_map\` to \`configuration_llada.LLaDAConfig\` / \`modeling_llada.LLaDAModelLM\`.
`;
  fs.writeFileSync(path.join(dir, 'README.md'), text);
}
