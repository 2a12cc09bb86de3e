namespace LeNet.Gpu.Tests.Support;

/// <summary>Random inputs and conversions between image-major arrays and the batch-innermost device layout.</summary>
public static class TestData
{
    /// <summary>n float images [n][32·32] uniform in the paper's input range [−0.1, 1.175].</summary>
    public static float[] RandomImages(int n, int seed)
    {
        var random = new Random(seed);
        var images = new float[n * 1024];
        for (int i = 0; i < images.Length; i++)
            images[i] = (float)(-0.1 + 1.275 * random.NextDouble());
        return images;
    }

    /// <summary>n float values uniform in [lo, hi).</summary>
    public static float[] RandomFloats(int n, int seed, double lo, double hi)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)(lo + (hi - lo) * random.NextDouble());
        return values;
    }

    public static byte[] RandomBytes(int n, int seed)
    {
        var bytes = new byte[n];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Image <paramref name="n"/> of an image-major float array, in double.</summary>
    public static double[] Image(float[] images, int n, int per) =>
        images.AsSpan(n * per, per).ToArray().Select(v => (double)v).ToArray();

    /// <summary>
    /// Image-major [count][elements] → batch-innermost [elements][capacity], slot n of element e at e·capacity + n.
    /// Slots count…capacity−1 are NaN so a kernel that reads past the batch or mixes images produces NaN.
    /// Written from the documented layout contract, not from the library's BatchShape.
    /// </summary>
    public static float[] ToBatchLayout(float[] imageMajor, int count, int capacity)
    {
        int per = imageMajor.Length / count;
        var device = new float[per * capacity];
        Array.Fill(device, float.NaN);
        for (int n = 0; n < count; n++)
            for (int e = 0; e < per; e++)
                device[e * capacity + n] = imageMajor[n * per + e];
        return device;
    }

    /// <summary>Batch-innermost [elements][capacity] → image-major [count][elements].</summary>
    public static float[] FromBatchLayout(float[] device, int count, int capacity)
    {
        int per = device.Length / capacity;
        var images = new float[count * per];
        for (int n = 0; n < count; n++)
            for (int e = 0; e < per; e++)
                images[n * per + e] = device[e * capacity + n];
        return images;
    }

    /// <summary>Values in slots count…capacity−1 of a batch-innermost buffer (what a launch of count images must not touch).</summary>
    public static IEnumerable<float> Padding(float[] device, int count, int capacity)
    {
        int per = device.Length / capacity;
        for (int e = 0; e < per; e++)
            for (int n = count; n < capacity; n++)
                yield return device[e * capacity + n];
    }

    public static float[] ToFloat(IEnumerable<double> values) => values.Select(v => (float)v).ToArray();

    /// <summary>Concatenates one array per image into an image-major array.</summary>
    public static double[] Concat(IEnumerable<double[]> perImage) => perImage.SelectMany(a => a).ToArray();
}
