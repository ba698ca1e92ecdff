package dev.panamax.runtime.generate;

import java.util.List;

/**
 * The chat formats of the common model families, recognised from the model's own Jinja template
 * (GGUF {@code tokenizer.chat_template} or {@code tokenizer_config.json}'s {@code chat_template})
 * by their marker tokens. Panamax does not run Jinja; it writes the format each family's template
 * produces.
 */
public enum ChatTemplate {
    /** {@code <|im_start|>role\ncontent<|im_end|>\n} … then {@code <|im_start|>assistant\n} (Qwen, SmolLM, many others). */
    CHATML("<|im_end|>"),
    /** Llama 3: {@code <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>}. */
    LLAMA3("<|eot_id|>"),
    /** Llama 2: {@code [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] …}. */
    LLAMA2("</s>"),
    /** Mistral: {@code [INST] user [/INST]answer</s>[INST] …}, the system text joined to the first user turn. */
    MISTRAL("</s>"),
    /** No template: the conversation is plain text, each turn continuing it. */
    NONE("");

    /** Text that ends an assistant turn (besides EOS). */
    public final String endOfTurn;

    ChatTemplate(String endOfTurn) {
        this.endOfTurn = endOfTurn;
    }

    /** One message of a conversation: {@code role} is "system", "user" or "assistant". */
    public record Message(String role, String content) {}

    /** Recognises the family from a Jinja template's text; NONE when there is none or it is unknown. */
    public static ChatTemplate detect(String jinja) {
        if (jinja == null || jinja.isBlank()) return NONE;
        if (jinja.contains("<|im_start|>")) return CHATML;
        if (jinja.contains("<|start_header_id|>")) return LLAMA3;
        if (jinja.contains("<<SYS>>")) return LLAMA2;
        if (jinja.contains("[INST]")) return MISTRAL;
        return NONE;
    }

    /**
     * The prompt text for {@code messages}, ending where the assistant's answer starts. BOS is not
     * included: the tokenizer adds it.
     */
    public String format(List<Message> messages) {
        StringBuilder sb = new StringBuilder();
        switch (this) {
            case CHATML -> {
                for (Message m : messages) sb.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
                sb.append("<|im_start|>assistant\n");
            }
            case LLAMA3 -> {
                for (Message m : messages) {
                    sb.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n").append(m.content().strip()).append("<|eot_id|>");
                }
                sb.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            case LLAMA2, MISTRAL -> {
                String system = null;
                boolean first = true;
                for (Message m : messages) {
                    switch (m.role()) {
                        case "system" -> system = m.content();
                        case "user" -> {
                            if (!first && this == LLAMA2) sb.append("<s>");
                            sb.append("[INST] ");
                            if (system != null) {
                                sb.append(this == LLAMA2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" : system + "\n\n");
                                system = null;
                            }
                            sb.append(m.content().strip()).append(" [/INST]");
                            first = false;
                        }
                        default -> sb.append(this == LLAMA2 ? " " : "").append(m.content().strip()).append(this == LLAMA2 ? " </s>" : "</s>");
                    }
                }
            }
            case NONE -> {
                for (Message m : messages) {
                    if (!m.role().equals("system")) sb.append(m.content());
                }
            }
        }
        return sb.toString();
    }
}
