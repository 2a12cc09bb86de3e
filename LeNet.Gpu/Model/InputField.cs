namespace LeNet.Gpu.Model;

/// <summary>
/// The network's input rule, written once for both engines, their kernels and the data loaders: the 32×32 field
/// in the paper's scale — background (white) −0.1, full ink (black) 1.175, ink level v in 0..255 → −0.1 + 1.275·v/255
/// — MNIST's 28×28 digits placed in it with a 2-pixel border of background, and the bilinear sampling the training
/// distortions read it with. Constants and static methods only, so ILGPU kernels fold and call them as the CPU code
/// does and every engine maps the same byte to the same float.
/// </summary>
public static class InputField
{
    /// <summary>Side of the square input field.</summary>
    public const int Size = Architecture.InputSize;

    /// <summary>Side of an MNIST image, and its bytes.</summary>
    public const int MnistSize = 28, MnistLength = MnistSize * MnistSize;

    /// <summary>Pixels of background around an MNIST image in the field (LeCun's 2).</summary>
    public const int Border = (Size - MnistSize) / 2;

    /// <summary>The paper's input scaling: background (white) −0.1, foreground (black) 1.175.</summary>
    public const float Background = -0.1f, Foreground = 1.175f;

    /// <summary>Input per ink level: 1.275/255, rounded to float once (the kernels' expression since the start).</summary>
    public const float InkStep = 1.275f / 255f;

    /// <summary>
    /// The input value of an ink fraction 0..1 computed in double, as the paper writes the rule (−0.1 + 1.275 f), for
    /// inputs made up in double (benchmarks, the PyTorch peer's check images, which compute the same numbers).
    /// </summary>
    public static double FromInkFraction(double fraction) => -0.1 + 1.275 * fraction;

    /// <summary>The ink fraction 0..1 of an input value (background 0, full ink 1; outside that range beyond): the inverse of <see cref="FromInkFraction"/>.</summary>
    public static double InkFraction(double input) => (input - -0.1) / 1.275;

    /// <summary>The input value of an ink level (0 = background → −0.1, 255 → 1.175).</summary>
    public static float Ink(byte level) => Background + InkStep * level;

    /// <summary>The input value of a fractional ink level in 0..255 (a resampled picture).</summary>
    public static float Ink(float level) => Background + InkStep * level;

    /// <summary>
    /// Input value at (x, y) of the field that holds the 28×28 MNIST image starting at <paramref name="image"/> in
    /// <paramref name="bytes"/>: its ink inside, background in the border.
    /// </summary>
    public static float Mnist<TBytes>(TBytes bytes, int image, int x, int y) where TBytes : struct, IInkBytes
    {
        int sy = y - Border, sx = x - Border;
        float v = Background; // an if, not a ?: — the ?: costs FromMnistBytes 8 more registers on sm_90
        if (sy >= 0 && sy < MnistSize && sx >= 0 && sx < MnistSize)
            v = Ink(bytes.At(image + sy * MnistSize + sx));
        return v;
    }

    /// <summary>
    /// The field starting at <paramref name="image"/> in <paramref name="floats"/>, sampled bilinearly between pixels
    /// x0..x0+1 and y0..y0+1 with weights fx, fy (a distortion's source position); outside the field is background.
    /// </summary>
    public static float Bilinear<TFloats>(TFloats floats, long image, int x0, int y0, float fx, float fy)
        where TFloats : struct, IFieldFloats
    {
        float p00 = Pixel(floats, image, x0, y0), p10 = Pixel(floats, image, x0 + 1, y0);
        float p01 = Pixel(floats, image, x0, y0 + 1), p11 = Pixel(floats, image, x0 + 1, y0 + 1);
        float top = p00 + fx * (p10 - p00), bottom = p01 + fx * (p11 - p01);
        return top + fy * (bottom - top);
    }

    private static float Pixel<TFloats>(TFloats floats, long image, int x, int y) where TFloats : struct, IFieldFloats =>
        x >= 0 && x < Size && y >= 0 && y < Size ? floats.At(image + y * Size + x) : Background;
}

/// <summary>Ink bytes the input rule reads — a device view or host memory — so one rule serves kernels and CPU code.</summary>
public interface IInkBytes
{
    byte At(int index);
}

/// <summary>Input-field floats the bilinear sampler reads — a device view or host memory.</summary>
public interface IFieldFloats
{
    float At(long index);
}
