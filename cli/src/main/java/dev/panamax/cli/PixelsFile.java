package dev.panamax.cli;

import dev.panamax.cli.Cli.UsageException;
import dev.panamax.runtime.ModelException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A preprocessed image given as {@code --pixels FILE.f32}: float32 little-endian [C, H, W], what
 * transformers' image processor returns. H × W is {@code --pixel-size HxW}, or else the square the
 * file's length makes. Another size than the model's is run with its position embeddings resized
 * (bicubic, as transformers' {@code interpolate_pos_encoding=True}).
 */
record PixelsFile(float[] pixels, int height, int width) {

    static final Option SIZE = Option.valued("--pixel-size", "HxW", "the --pixels tensor's height and width (default: the square its length makes)");

    static PixelsFile read(Path file, int channels, int modelSize, String size) throws IOException {
        long bytes = Files.size(file);
        String own = " (the model's own size, a [" + channels + ", " + modelSize + ", " + modelSize + "] float32 tensor, is "
                + 4L * channels * modelSize * modelSize + " bytes)";
        if (bytes % (4L * channels) != 0) throw new ModelException(file + ": " + bytes + " bytes is not a whole number of " + channels + "-channel float32 pixels" + own);
        long perChannel = bytes / (4L * channels);
        int h, w;
        if (size != null) {
            String[] hw = size.toLowerCase(java.util.Locale.ROOT).split("x");
            try {
                if (hw.length != 2) throw new NumberFormatException();
                h = Integer.parseInt(hw[0].trim());
                w = Integer.parseInt(hw[1].trim());
            } catch (NumberFormatException e) {
                throw new UsageException("--pixel-size takes HxW, e.g. 224x224, not '" + size + "'");
            }
            if (h <= 0 || w <= 0) throw new UsageException("--pixel-size takes positive sizes, not '" + size + "'");
            if ((long) h * w != perChannel) {
                throw new ModelException(file + ": " + bytes + " bytes; a [" + channels + ", " + h + ", " + w + "] float32 tensor is " + 4L * channels * h * w);
            }
        } else {
            h = w = (int) Math.round(Math.sqrt((double) perChannel));
            if ((long) h * w != perChannel) {
                throw new ModelException(file + ": " + bytes + " bytes is " + perChannel + " pixels a channel, not a square: give its size with --pixel-size HxW");
            }
        }
        if (bytes == 0) throw new ModelException(file + " is empty" + own);
        if (bytes > Integer.MAX_VALUE - 8) throw new ModelException(file + ": " + bytes + " bytes is too large for one image");
        float[] pixels = new float[(int) (bytes / 4)];
        ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(pixels);
        return new PixelsFile(pixels, h, w);
    }
}
