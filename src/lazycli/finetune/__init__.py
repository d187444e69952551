"""Fine-tuning: the data doctor, run folders and progress mapping (`lz finetune`).

The frameworks themselves (PEFT, LLaMA-Factory, FlagEmbedding, CoLLiE) are finetuner plugins
(`lazycli_finetuners`); they run as their own processes from managed environments (`lazycli.envs`).
"""
