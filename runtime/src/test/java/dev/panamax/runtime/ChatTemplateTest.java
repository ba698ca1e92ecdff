package dev.panamax.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.ChatTemplate.Message;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each family's format, written out by hand from the family's published template. */
class ChatTemplateTest {

    static final List<Message> CONVERSATION = List.of(new Message("system", "Be brief."), new Message("user", "Hi"),
            new Message("assistant", "Hello."), new Message("user", "Who are you?"));

    @Test
    void detectsTheFamilyFromTheJinjaMarkers() {
        assertEquals(ChatTemplate.CHATML, ChatTemplate.detect("{% for m in messages %}<|im_start|>{{m.role}}..."));
        assertEquals(ChatTemplate.LLAMA3, ChatTemplate.detect("<|start_header_id|>' + message['role'] + '<|end_header_id|>"));
        assertEquals(ChatTemplate.LLAMA2, ChatTemplate.detect("[INST] <<SYS>>\\n' + system + '\\n<</SYS>>"));
        assertEquals(ChatTemplate.MISTRAL, ChatTemplate.detect("{{ '[INST] ' + message['content'] + ' [/INST]' }}"));
        assertEquals(ChatTemplate.NONE, ChatTemplate.detect(null));
    }

    @Test
    void chatml() {
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
                + "<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n", ChatTemplate.CHATML.format(CONVERSATION));
    }

    @Test
    void llama3() {
        assertEquals("<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", ChatTemplate.LLAMA3.format(CONVERSATION));
    }

    @Test
    void llama2AndMistral() {
        assertEquals("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Who are you? [/INST]", ChatTemplate.LLAMA2.format(CONVERSATION));
        assertEquals("[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Who are you? [/INST]", ChatTemplate.MISTRAL.format(CONVERSATION));
    }
}
