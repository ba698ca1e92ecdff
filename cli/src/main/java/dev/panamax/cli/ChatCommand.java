package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax chat}: talk to a chat model, one message per line of stdin. */
final class ChatCommand extends Command {

    ChatCommand() {
        super("chat", "[MODEL] [options]", "talk to a chat model, one message per line of stdin", """
                Reads one user message per line from stdin and streams the assistant's answers,
                formatted with the model's chat template (ChatML, Llama 2, Llama 3 and Mistral
                families are recognised from the template the model ships). A model without a
                template (like the embedded kjv-llama) just continues the text. An empty line or
                end of input ends the chat. The model's cache is kept from turn to turn, so a turn
                costs its own new tokens; when the conversation outgrows the context, its oldest
                turns are dropped (the system message stays) and the chat goes on.
                """, Option.of(List.of(Option.valued("--system", "TEXT", "a system message")), Option.sampling(256),
                List.of(Option.QUANTIZE, Option.THREADS, Option.KV_TYPE, Option.PROMPT_CHUNK, Option.LAYOUT_CACHE, Option.DEVICE)));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return chat(a, out, err, in);
    }

    private int chat(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        if (a.positional.size() > 1) throw new UsageException("chat takes at most MODEL (see panamax chat --help)");
        GenerationOptions base = sampling(a, 256);
        Path modelPath = a.positional.isEmpty() ? null : Path.of(a.positional.get(0));
        String device = deviceOption(a);
        try (Panamax model = place(load(modelPath, loadOptions(a), err), device, err)) {
            model.model().prepare();
            if (model.model().preparedNote() != null) err.println("panamax: " + model.model().preparedNote());
            String system = a.value("--system", null);
            dev.panamax.runtime.generate.Chat chat = new dev.panamax.runtime.generate.Chat(model.model(), system, note -> err.println("panamax: " + note));
            ChatTemplate template = chat.template();
            err.println("panamax: chatting with " + (modelPath == null ? "kjv-llama (embedded)" : modelPath) + ", template "
                    + template.name().toLowerCase(java.util.Locale.ROOT) + (template == ChatTemplate.NONE ? " (each line continues the text)" : "")
                    + "; an empty line or end of input ends the chat");
            // Strict: a byte that is not UTF-8 is an error naming it, not a silent U+FFFD.
            java.io.BufferedReader reader = new java.io.BufferedReader(new java.io.InputStreamReader(in,
                    StandardCharsets.UTF_8.newDecoder().onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                            .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)));
            while (true) {
                err.print("> ");
                err.flush();
                String line = reader.readLine();
                if (line == null || line.isBlank()) break;
                if (template == ChatTemplate.NONE) out.print(line);
                Generator.Result r = chat.send(line, base, text -> {
                    out.print(text);
                    out.flush();
                    if (out.checkError()) throw new OutputClosed();
                }, () -> model.isClosed() ? "the model was closed" : null, null);
                out.println();
                err.printf("panamax: %d new prompt tokens, %d generated at %.1f tok/s%n", r.promptTokensFed(), r.generatedIds().length, r.generatedTokensPerSecond());
            }
        }
        return 0;
    }
}
