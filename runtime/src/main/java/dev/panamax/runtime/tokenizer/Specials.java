package dev.panamax.runtime.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds special tokens in raw text before the tokenizer model runs, as llama.cpp does:
 * user-defined tokens always match, control tokens (like {@code <s>}) only when special tokens are
 * parsed. Longer tokens win over tokens they contain.
 */
final class Specials {

    /** A piece of the text: raw text to tokenize ({@code id < 0}), or one special token. */
    record Fragment(String text, int id) {}

    private final String[] pieces;
    private final List<Integer> userDefined = new ArrayList<>(), control = new ArrayList<>();

    Specials(String[] pieces, int[] types) {
        this.pieces = pieces;
        for (int i = 0; i < pieces.length; i++) {
            if (pieces[i] == null || pieces[i].isEmpty()) continue;
            if (types[i] == SentencePiece.USER_DEFINED) userDefined.add(i);
            else if (types[i] == SentencePiece.CONTROL) control.add(i);
        }
        userDefined.sort((a, b) -> pieces[b].length() - pieces[a].length());
        control.sort((a, b) -> pieces[b].length() - pieces[a].length());
    }

    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> out = new ArrayList<>();
        if (userDefined.isEmpty() && (!parseSpecial || control.isEmpty())) {
            if (!text.isEmpty()) out.add(new Fragment(text, -1));
            return out;
        }
        int start = 0, i = 0;
        while (i < text.length()) {
            int match = at(text, i, parseSpecial);
            if (match < 0) {
                i++;
                continue;
            }
            if (i > start) out.add(new Fragment(text.substring(start, i), -1));
            out.add(new Fragment(pieces[match], match));
            i += pieces[match].length();
            start = i;
        }
        if (start < text.length()) out.add(new Fragment(text.substring(start), -1));
        return out;
    }

    private int at(String text, int i, boolean parseSpecial) {
        char c = text.charAt(i);
        for (int id : userDefined) if (pieces[id].charAt(0) == c && text.startsWith(pieces[id], i)) return id;
        if (parseSpecial) for (int id : control) if (pieces[id].charAt(0) == c && text.startsWith(pieces[id], i)) return id;
        return -1;
    }
}
