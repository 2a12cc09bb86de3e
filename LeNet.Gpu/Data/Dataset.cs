using LeNet.Gpu.Model;

namespace LeNet.Gpu.Data;

/// <summary>Which half of a dataset's published split.</summary>
public enum DataSplit { Train, Test }

/// <summary>Class names of the datasets this library knows, index = label.</summary>
public static class ClassNames
{
    public static readonly IReadOnlyList<string> Digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Fashion-MNIST's labels, as its authors name them.</summary>
    public static readonly IReadOnlyList<string> Fashion =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
}

/// <summary>
/// Labelled images already in the network's input form: <see cref="Count"/> fields of 32×32 floats, row-major,
/// one after the other in <see cref="Images"/> (the [N][32·32] layout the training kernels gather from), in
/// the paper's scale (background −0.1, full ink 1.175). Optionally keeps the source pixels (ink = 255) too.
/// </summary>
public sealed class Dataset
{
    public const int Side = Architecture.InputSize;

    /// <summary>Paper scale per ink level (<see cref="InputField.Ink(byte)"/>), looked up once per byte value.</summary>
    private static readonly float[] InkScale = BuildInkScale();

    public string Name { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int ClassCount => ClassNames.Count;
    public int Count => Labels.Length;

    /// <summary>[Count][32·32] floats, row-major.</summary>
    public float[] Images { get; }

    /// <summary>[Count] labels in 0..ClassCount−1.</summary>
    public int[] Labels { get; }

    /// <summary>The source pixels, [Count][RawHeight·RawWidth], 0 = background and 255 = ink; null when the
    /// images did not come from bytes (or after a transformation that made them meaningless).</summary>
    public byte[]? RawPixels { get; }
    public int RawWidth { get; }
    public int RawHeight { get; }

    public Dataset(string name, IReadOnlyList<string> classNames, float[] images, int[] labels,
        byte[]? rawPixels = null, int rawWidth = 0, int rawHeight = 0)
    {
        if (classNames.Count < 1)
            throw new ArgumentException("a dataset needs at least one class", nameof(classNames));
        if (images.Length != (long)labels.Length * Architecture.InputLength)
            throw new ArgumentException(
                $"{images.Length} floats do not make {labels.Length} images of {Architecture.InputLength}", nameof(images));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classNames.Count)
                throw new ArgumentException($"label {labels[i]} of image {i} is not a class (0..{classNames.Count - 1})", nameof(labels));
        if (rawPixels is not null && rawPixels.Length != (long)labels.Length * rawWidth * rawHeight)
            throw new ArgumentException(
                $"{rawPixels.Length} raw bytes do not make {labels.Length} images of {rawWidth}×{rawHeight}", nameof(rawPixels));
        Name = name;
        ClassNames = classNames;
        Images = images;
        Labels = labels;
        RawPixels = rawPixels;
        RawWidth = rawPixels is null ? 0 : rawWidth;
        RawHeight = rawPixels is null ? 0 : rawHeight;
    }

    /// <summary>The paper's input value for an ink level (0 = background → −0.1, 255 → 1.175).</summary>
    public static float InkToInput(byte ink) => InkScale[ink];

    /// <summary>
    /// Images given as ink bytes [count][height·width] (0 = background, 255 = ink), each centred in the
    /// 32×32 field: 28×28 MNIST images get LeCun's 2-pixel border, 20×20 boxes a 6-pixel one. The byte array
    /// is kept (not copied) as <see cref="RawPixels"/>.
    /// </summary>
    public static Dataset FromInkBytes(string name, IReadOnlyList<string> classNames, byte[] pixels,
        int width, int height, int[] labels)
    {
        if (width < 1 || height < 1 || width > Side || height > Side)
            throw new ArgumentException($"images of {width}×{height} do not fit the {Side}×{Side} input field");
        int n = labels.Length;
        if (pixels.Length != (long)n * width * height)
            throw new ArgumentException($"{pixels.Length} bytes do not make {n} images of {width}×{height}", nameof(pixels));

        var images = new float[(long)n * Architecture.InputLength];
        int left = (Side - width) / 2, top = (Side - height) / 2;
        float background = InkScale[0];
        Parallel.For(0, n, i =>
        {
            var field = images.AsSpan(i * Architecture.InputLength, Architecture.InputLength);
            field.Fill(background);
            var source = pixels.AsSpan(i * width * height, width * height);
            for (int y = 0; y < height; y++)
            {
                var row = field.Slice((top + y) * Side + left, width);
                var ink = source.Slice(y * width, width);
                for (int x = 0; x < width; x++) row[x] = InkScale[ink[x]];
            }
        });
        return new Dataset(name, classNames, images, labels, pixels, width, height);
    }

    /// <summary>
    /// Like <see cref="FromInkBytes"/>, but each image is normalised as the paper normalised MNIST and as
    /// <see cref="ImageLoader"/> prepares a user's picture: ink cropped to its bounding box, scaled to fit a 20×20
    /// box (aspect kept), centred by its centre of mass in the 32×32 field. Training, evaluation and `predict`
    /// then see digits of one size and position.
    /// </summary>
    public static Dataset FromNormalizedInk(string name, IReadOnlyList<string> classNames, byte[] pixels,
        int width, int height, int[] labels)
    {
        var dataset = FromInkBytes(name, classNames, pixels, width, height, labels);
        Parallel.For(0, labels.Length, i =>
        {
            var cell = new GrayImage(width, height, pixels.AsSpan(i * width * height, width * height).ToArray());
            try { ImageLoader.Prepare(cell, ImageCentring.CenterOfMass).CopyTo(dataset.Images, (long)i * Architecture.InputLength); }
            catch (DataFormatException) { } // a blank cell keeps its plain centred copy
        });
        return dataset;
    }

    /// <summary>The input field of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Image(int index) => Images.AsSpan(checked(index * Architecture.InputLength), Architecture.InputLength);

    /// <summary>The source pixels of image <paramref name="index"/> (ink = 255); empty without raw pixels.</summary>
    public ReadOnlySpan<byte> RawImage(int index) =>
        RawPixels is null ? default : RawPixels.AsSpan(index * RawWidth * RawHeight, RawWidth * RawHeight);

    /// <summary>Images per class, index = label.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (int label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>A new dataset of the given images, in the given order (copies).</summary>
    public Dataset Subset(IReadOnlyList<int> indices, string? name = null)
    {
        int n = indices.Count;
        var images = new float[(long)n * Architecture.InputLength];
        var labels = new int[n];
        int rawLength = RawWidth * RawHeight;
        byte[]? raw = RawPixels is null ? null : new byte[(long)n * rawLength];
        for (int k = 0; k < n; k++)
        {
            int i = indices[k];
            if ((uint)i >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), i, $"index outside the dataset's {Count} images");
            Array.Copy(Images, (long)i * Architecture.InputLength, images, (long)k * Architecture.InputLength, Architecture.InputLength);
            labels[k] = Labels[i];
            if (raw is not null) Array.Copy(RawPixels!, (long)i * rawLength, raw, (long)k * rawLength, rawLength);
        }
        return new Dataset(name ?? Name, ClassNames, images, labels, raw, RawWidth, RawHeight);
    }

    /// <summary>
    /// Holds out <paramref name="validationCount"/> images chosen at random, reproducibly from
    /// <paramref name="seed"/>; both parts keep the original order of their images.
    /// </summary>
    public (Dataset Train, Dataset Validation) Split(int validationCount, int seed)
    {
        if (validationCount < 0 || validationCount > Count)
            throw new ArgumentOutOfRangeException(nameof(validationCount), validationCount, $"must be 0..{Count}");
        // Fisher–Yates with a seeded System.Random: seeded Random keeps its sequence across .NET versions.
        var order = Enumerable.Range(0, Count).ToArray();
        var random = new Random(seed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var validation = order[..validationCount];
        var train = order[validationCount..];
        Array.Sort(validation);
        Array.Sort(train);
        return (Subset(train, Name + "/train"), Subset(validation, Name + "/validation"));
    }

    /// <summary>Holds out a fraction (0..1) of the images; see <see cref="Split(int, int)"/>.</summary>
    public (Dataset Train, Dataset Validation) Split(double validationFraction, int seed)
    {
        if (!(validationFraction >= 0 && validationFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must be in 0..1");
        return Split((int)Math.Round(Count * validationFraction), seed);
    }

    public override string ToString() => $"{Name}: {Count:N0} images, {ClassCount} classes";

    private static float[] BuildInkScale()
    {
        var scale = new float[256];
        for (int v = 0; v < 256; v++) scale[v] = InputField.Ink((byte)v);
        return scale;
    }
}
