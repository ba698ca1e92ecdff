package dev.panamax.runtime.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A JPEG's EXIF orientation is applied as Pillow's {@code exif_transpose} applies it (the EXIF
 * specification's eight orientations), and a lying EXIF block is ignored, never a crash.
 */
class RgbImageTest {

    /** A 16×8 JPEG, left half red, right half blue, with an EXIF block giving {@code orientation} (0: none). */
    private static byte[] jpeg(int orientation, boolean lie) throws Exception {
        BufferedImage img = new BufferedImage(16, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 16; x++) img.setRGB(x, y, x < 8 ? 0xe01010 : 0x1010e0);
        ByteArrayOutputStream jpg = new ByteArrayOutputStream();
        ImageIO.write(img, "jpg", jpg);
        byte[] plain = jpg.toByteArray();
        if (orientation == 0) return plain;
        // APP1: "Exif\0\0", a little-endian TIFF header, IFD0 with one entry: 0x0112 SHORT 1 = orientation.
        byte[] tiff = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte) orientation, 0, 0, 0, 0, 0, 0, 0};
        if (lie) tiff[4] = (byte) 200; // IFD0 beyond the block
        int len = 2 + 6 + tiff.length;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(plain, 0, 2); // SOI
        out.write(new byte[] {(byte) 0xFF, (byte) 0xE1, (byte) (len >> 8), (byte) len, 'E', 'x', 'i', 'f', 0, 0});
        out.write(tiff);
        out.write(plain, 2, plain.length - 2);
        return out.toByteArray();
    }

    private static boolean red(RgbImage i, int x, int y) {
        return i.at(x, y, 0) > 150 && i.at(x, y, 2) < 100;
    }

    private static boolean blue(RgbImage i, int x, int y) {
        return i.at(x, y, 2) > 150 && i.at(x, y, 0) < 100;
    }

    @Test
    void exifOrientationTurnsThePhotoUpright(@TempDir Path tmp) throws Exception {
        RgbImage none = RgbImage.read(Files.write(tmp.resolve("0.jpg"), jpeg(0, false)));
        assertEquals(16, none.width());
        assertTrue(red(none, 3, 4) && blue(none, 12, 4));

        RgbImage six = RgbImage.read(Files.write(tmp.resolve("6.jpg"), jpeg(6, false))); // 90° clockwise: the left half goes on top
        assertEquals(8, six.width());
        assertEquals(16, six.height());
        assertTrue(red(six, 4, 3) && blue(six, 4, 12), "orientation 6");

        RgbImage eight = RgbImage.read(Files.write(tmp.resolve("8.jpg"), jpeg(8, false))); // 90° counter-clockwise: the left half goes below
        assertTrue(blue(eight, 4, 3) && red(eight, 4, 12), "orientation 8");

        RgbImage three = RgbImage.read(Files.write(tmp.resolve("3.jpg"), jpeg(3, false))); // 180°
        assertEquals(16, three.width());
        assertTrue(blue(three, 3, 4) && red(three, 12, 4), "orientation 3");

        RgbImage lying = RgbImage.read(Files.write(tmp.resolve("lie.jpg"), jpeg(6, true)));
        assertEquals(16, lying.width(), "an IFD beyond its block is ignored");
        assertEquals(1, RgbImage.Exif.orientation(new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE1, 0, 40}));
    }

    /** Bytes in memory (a table's row) decode as the same file does, EXIF included; bytes that are no image are an error naming them. */
    @Test
    void bytesDecodeAsTheirFileDoes(@TempDir Path tmp) throws Exception {
        byte[] six = jpeg(6, false);
        RgbImage fromFile = RgbImage.read(Files.write(tmp.resolve("6.jpg"), six)), fromBytes = RgbImage.decode(six, "row 7");
        assertEquals(fromFile.width(), fromBytes.width());
        assertEquals(fromFile.height(), fromBytes.height());
        org.junit.jupiter.api.Assertions.assertArrayEquals(fromFile.rgb(), fromBytes.rgb());
        assertEquals(8, fromBytes.width(), "orientation 6 applied");
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.panamax.runtime.ModelException.class, () -> RgbImage.decode(new byte[] {1, 2, 3}, "row 9"));
        assertTrue(e.getMessage().startsWith("row 9: not an image format"), e.getMessage());
    }
}
