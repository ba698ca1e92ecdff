/**
 * One class per architecture family (Llama/Qwen/Mistral, GPT-2, BERT, Mamba, ...), each reading
 * like its paper's equations, on top of {@code dev.panamax.runtime}. Filled by the model issue.
 */
package dev.panamax.models;
