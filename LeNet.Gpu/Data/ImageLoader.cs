using LeNet.Gpu.Model;
using SkiaSharp;

namespace LeNet.Gpu.Data;

/// <summary>A decoded 8-bit grayscale image, row-major, 0 = black, 255 = white (as the file shows it).</summary>
public sealed record GrayImage(int Width, int Height, byte[] Pixels)
{
    public byte this[int x, int y] => Pixels[y * Width + x];
}

/// <summary>Where <see cref="ImageLoader"/> puts the scaled digit inside the 32×32 field.</summary>
public enum ImageCentring
{
    /// <summary>The ink's centre of mass at the field's centre, as MNIST was prepared.</summary>
    CenterOfMass,

    /// <summary>The ink's bounding box in the middle of the field.</summary>
    BoundingBox,
}

/// <summary>
/// Turns an arbitrary picture of one digit (PNG, JPEG, anything SkiaSharp decodes) into the network's input,
/// preparing it as MNIST's digits were: grayscale; ink made bright (inverted when the picture's border is
/// bright, i.e. dark ink on paper); cropped to the ink; scaled to fit a 20×20 box keeping its aspect ratio;
/// centred in the 32×32 field; mapped to the paper's scale (background −0.1, full ink 1.175).
/// </summary>
public static class ImageLoader
{
    /// <summary>Side of the box the ink is scaled into (MNIST's 20×20).</summary>
    public const int Box = 20;

    /// <summary>Pictures beyond this many pixels are refused rather than decoded into gigabytes.</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>Largest image file read: an uncompressed 32-bit bitmap of <see cref="MaxPixels"/> pixels.</summary>
    public const long MaxFileBytes = 4 * MaxPixels + (1 << 20);

    /// <summary>Decode a file and prepare it: 32·32 floats in the paper's scale.</summary>
    public static float[] Load(string path, ImageCentring centring = ImageCentring.CenterOfMass) =>
        Prepare(Decode(path), centring, path);

    /// <summary>Decode an image file to grayscale. Transparent pixels count as white paper.</summary>
    /// <exception cref="DataFormatException">Not an image SkiaSharp can decode, or absurdly large.</exception>
    /// <exception cref="DataNotFoundException">The file is missing.</exception>
    public static GrayImage Decode(string path)
    {
        byte[] data;
        try
        {
            data = InputFile.ReadAllBytes(path, MaxFileBytes, "an image");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DataNotFoundException(InputFile.NotFound(path), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // InputFile's messages already begin with the path; say it once.
            string reason = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
            throw new DataFormatException(path, $"cannot read: {reason}", e);
        }
        return Decode(data, path);
    }

    /// <summary>
    /// The picture's width and height as its header declares them, without decoding any pixel (a small file may
    /// declare a huge picture: check before <see cref="Decode(byte[], string)"/>); null when no decoder recognises it.
    /// </summary>
    public static (int Width, int Height)? Dimensions(byte[] encoded)
    {
        using var skData = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(skData);
        return codec is null ? null : (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>A damaged PNG is named precisely (which chunk, what is wrong); anything else gets <paramref name="otherwise"/>.</summary>
    private static DataFormatException Undecodable(byte[] encoded, string source, string otherwise) =>
        new(source, PngChunks.Diagnose(encoded) ?? otherwise);

    /// <summary>Decode encoded image bytes; <paramref name="source"/> names them in errors.</summary>
    public static GrayImage Decode(byte[] encoded, string source)
    {
        using var skData = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(skData)
            ?? throw Undecodable(encoded, source, "not an image format that can be decoded (PNG, JPEG, WebP, GIF, BMP)");
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1 || (long)width * height > MaxPixels)
            throw new DataFormatException(source, $"image of {width}×{height} pixels is empty or too large");

        var gray = new byte[width * height];
        SKCodecResult result;
        // An opaque gray file decodes straight to gray: the same bytes as the RGBA path below gives it (the
        // weights sum to 256), without a buffer four times the size.
        if (codec.Info is { ColorType: SKColorType.Gray8, AlphaType: SKAlphaType.Opaque })
        {
            unsafe
            {
                fixed (byte* p = gray)
                    result = codec.GetPixels(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), (IntPtr)p);
            }
            if (result != SKCodecResult.Success)
                throw Undecodable(encoded, source, $"image could not be decoded ({result})");
            return new GrayImage(width, height, gray);
        }

        // Anything else decodes to unpremultiplied RGBA, reduced to gray here: one path for gray-with-alpha,
        // palette and colour files. Row by row where the decoder can (JPEG; Skia's PNG decoder here cannot), so a
        // large picture need not exist as RGBA in full.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (codec.StartScanlineDecode(info) == SKCodecResult.Success && codec.ScanlineOrder == SKCodecScanlineOrder.TopDown)
        {
            var row = new byte[width * 4];
            unsafe
            {
                fixed (byte* p = row)
                    for (int y = 0; y < height; y++)
                    {
                        if (codec.GetScanlines((IntPtr)p, 1, row.Length) != 1)
                            throw Undecodable(encoded, source, $"image could not be decoded ({SKCodecResult.IncompleteInput})");
                        ToGray(row, gray.AsSpan(y * width, width));
                    }
            }
            return new GrayImage(width, height, gray);
        }

        var rgba = new byte[(long)width * height * 4];
        unsafe
        {
            fixed (byte* p = rgba)
                result = codec.GetPixels(info, (IntPtr)p);
        }
        if (result != SKCodecResult.Success)
            throw Undecodable(encoded, source, $"image could not be decoded ({result})");
        ToGray(rgba, gray);
        return new GrayImage(width, height, gray);
    }

    /// <summary>Unpremultiplied RGBA to gray, transparent pixels counting as white paper.</summary>
    private static void ToGray(ReadOnlySpan<byte> rgba, Span<byte> gray)
    {
        for (int i = 0; i < gray.Length; i++)
        {
            int r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
            int luma = (77 * r + 150 * g + 29 * b + 128) >> 8;
            gray[i] = (byte)((luma * a + 255 * (255 - a) + 127) / 255);
        }
    }

    /// <summary>Prepare a decoded picture: 32·32 floats in the paper's scale.</summary>
    /// <exception cref="DataFormatException">The picture holds no ink.</exception>
    public static float[] Prepare(GrayImage image, ImageCentring centring = ImageCentring.CenterOfMass, string? source = null)
    {
        var ink = PrepareInk(image, centring, source);
        var field = new float[Architecture.InputLength];
        for (int i = 0; i < field.Length; i++)
            field[i] = InputField.Ink(ink[i]);
        return field;
    }

    /// <summary>
    /// The prepared 32×32 field as ink levels (0 = background, 255 = full ink), before the paper's scaling;
    /// also what a user may want to look at to see what the network sees.
    /// </summary>
    public static float[] PrepareInk(GrayImage image, ImageCentring centring = ImageCentring.CenterOfMass, string? source = null)
    {
        int w = image.Width, h = image.Height;
        var inkOf = InkLevels(image);
        var pixels = image.Pixels;

        // Bounding box of clear ink (a quarter of full strength) so faint noise does not widen the crop.
        const float threshold = 255f / 4;
        int left = w, right = -1, top = h, bottom = -1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (inkOf[pixels[y * w + x]] >= threshold)
                {
                    left = Math.Min(left, x); right = Math.Max(right, x);
                    top = Math.Min(top, y); bottom = Math.Max(bottom, y);
                }
        if (right < 0)
            throw new DataFormatException(source, "no ink found: the image is blank or has no contrast");

        int cropW = right - left + 1, cropH = bottom - top + 1;
        int longer = Math.Max(cropW, cropH);
        int boxW = Math.Max(1, (int)Math.Round((double)cropW * Box / longer));
        int boxH = Math.Max(1, (int)Math.Round((double)cropH * Box / longer));
        var patch = Resample(pixels, inkOf, w, left, top, cropW, cropH, boxW, boxH);

        // Where the patch goes: its centre of mass (or its middle) onto the field's centre, 15.5 in pixel
        // indices, clamped so no ink falls outside the field.
        double cx = (boxW - 1) / 2.0, cy = (boxH - 1) / 2.0;
        if (centring == ImageCentring.CenterOfMass)
        {
            double sum = 0, sx = 0, sy = 0;
            for (int y = 0; y < boxH; y++)
                for (int x = 0; x < boxW; x++)
                {
                    double v = patch[y * boxW + x];
                    sum += v; sx += v * x; sy += v * y;
                }
            if (sum > 0) { cx = sx / sum; cy = sy / sum; }
        }
        const double centre = (Dataset.Side - 1) / 2.0;
        int offsetX = Math.Clamp((int)Math.Round(centre - cx, MidpointRounding.AwayFromZero), 0, Dataset.Side - boxW);
        int offsetY = Math.Clamp((int)Math.Round(centre - cy, MidpointRounding.AwayFromZero), 0, Dataset.Side - boxH);

        var field = new float[Architecture.InputLength];
        for (int y = 0; y < boxH; y++)
            for (int x = 0; x < boxW; x++)
                field[(offsetY + y) * Dataset.Side + offsetX + x] = Math.Clamp(patch[y * boxW + x], 0f, 255f);
        return field;
    }

    /// <summary>
    /// Ink strength 0..255 of each gray level (a pixel's ink is <c>levels[pixel]</c>): inverted when the border is
    /// bright (dark ink on light paper), the background level (median of the border) subtracted, then stretched so
    /// the strongest ink present is 255. A table of 256, not a float per pixel: a large picture costs no more.
    /// </summary>
    private static float[] InkLevels(GrayImage image)
    {
        int w = image.Width, h = image.Height;
        var border = new List<byte>(2 * (w + h));
        for (int x = 0; x < w; x++) { border.Add(image[x, 0]); if (h > 1) border.Add(image[x, h - 1]); }
        for (int y = 1; y < h - 1; y++) { border.Add(image[0, y]); if (w > 1) border.Add(image[w - 1, y]); }
        bool invert = border.Average(b => (double)b) > 127.5;

        var levels = border.Select(b => invert ? 255 - b : b).Order().ToArray();
        float background = levels[levels.Length / 2];
        var present = new bool[256];
        foreach (byte p in image.Pixels) present[p] = true;
        var ink = new float[256];
        float max = 0;
        for (int p = 0; p < 256; p++)
        {
            ink[p] = Math.Max(0, (invert ? 255 - p : p) - background);
            if (present[p]) max = Math.Max(max, ink[p]);
        }
        // Under 8 levels of contrast there is nothing to stretch: leave it all zero (then "no ink").
        float gain = max >= 8 ? 255f / max : 0f;
        for (int p = 0; p < 256; p++) ink[p] *= gain;
        return ink;
    }

    /// <summary>Scale a crop of the ink to boxW×boxH: area averaging when shrinking, bilinear when enlarging.</summary>
    private static float[] Resample(byte[] pixels, float[] inkOf, int stride, int left, int top, int cropW, int cropH, int boxW, int boxH)
    {
        var wx = Weights(cropW, boxW);
        var wy = Weights(cropH, boxH);
        // Horizontal pass over the cropped rows, then vertical.
        var rows = new float[cropH * boxW];
        for (int y = 0; y < cropH; y++)
            for (int x = 0; x < boxW; x++)
            {
                float s = 0;
                foreach (var (index, weight) in wx[x]) s += weight * inkOf[pixels[(top + y) * stride + left + index]];
                rows[y * boxW + x] = s;
            }
        var patch = new float[boxW * boxH];
        for (int y = 0; y < boxH; y++)
            for (int x = 0; x < boxW; x++)
            {
                float s = 0;
                foreach (var (index, weight) in wy[y]) s += weight * rows[index * boxW + x];
                patch[y * boxW + x] = s;
            }
        return patch;
    }

    /// <summary>For each destination index, the source indices it draws from and their weights (sum 1).</summary>
    private static List<(int Index, float Weight)>[] Weights(int source, int destination)
    {
        var result = new List<(int, float)>[destination];
        double scale = (double)source / destination;
        for (int d = 0; d < destination; d++)
        {
            var list = new List<(int, float)>();
            if (scale >= 1)
            {
                // Each destination pixel averages the source interval [d·scale, (d+1)·scale).
                double from = d * scale, to = (d + 1) * scale;
                for (int s = (int)Math.Floor(from); s < Math.Min(source, (int)Math.Ceiling(to)); s++)
                {
                    double overlap = Math.Min(to, s + 1) - Math.Max(from, s);
                    if (overlap > 0) list.Add((s, (float)(overlap / scale)));
                }
            }
            else
            {
                double u = (d + 0.5) * scale - 0.5;
                int s0 = (int)Math.Floor(u);
                float f = (float)(u - s0);
                list.Add((Math.Clamp(s0, 0, source - 1), 1 - f));
                list.Add((Math.Clamp(s0 + 1, 0, source - 1), f));
            }
            result[d] = list;
        }
        return result;
    }
}
