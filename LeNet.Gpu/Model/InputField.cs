namespace LeNet.Gpu.Model;

/// <summary>
/// The network's input rule, written once for both engines, their kernels and the data loaders: the 32×32 field
/// in the paper's scale — background (white) −0.1, full ink (black) 1.175, ink level v in 0..255 → −0.1 + 1.275·v/255
/// — and MNIST's 28×28 digits placed in it with a 2-pixel border of background.
/// Constants and static methods only, so ILGPU kernels fold and call them as the CPU code does; every engine maps
/// the same byte to the same float.
/// </summary>
public static class InputField
{
    /// <summary>Side of the square input field.</summary>
    public const int Size = Architecture.InputSize;

    /// <summary>Floats of one image's input field.</summary>
    public const int Length = Size * Size;

    /// <summary>Side of an MNIST image, and its bytes.</summary>
    public const int MnistSize = 28, MnistLength = MnistSize * MnistSize;

    /// <summary>Pixels of background around an MNIST image in the field (LeCun's 2).</summary>
    public const int Border = (Size - MnistSize) / 2;

    /// <summary>The paper's input scaling: background (white) −0.1, foreground (black) 1.175.</summary>
    public const float Background = -0.1f, Foreground = 1.175f;

    /// <summary>Input per ink level: 1.275/255, written as the kernels have always computed it.</summary>
    public const float InkStep = 1.275f / 255f;

    /// <summary>The input value of an ink level (0 = background → −0.1, 255 → 1.175).</summary>
    public static float Ink(byte level) => Background + InkStep * level;

    /// <summary>The input value of a fractional ink level in 0..255 (a resampled picture).</summary>
    public static float Ink(float level) => Background + InkStep * level;

    /// <summary>
    /// Input value at (x, y) of the field holding the 28×28 MNIST image whose first byte is <paramref name="image"/>
    /// in <paramref name="bytes"/>: ink inside, background in the border.
    /// </summary>
    public static float Mnist<TBytes>(TBytes bytes, long image, int x, int y) where TBytes : struct, IInkBytes
    {
        int sx = x - Border, sy = y - Border;
        return sy >= 0 && sy < MnistSize && sx >= 0 && sx < MnistSize
            ? Ink(bytes.At(image + sy * MnistSize + sx))
            : Background;
    }
}

/// <summary>Bytes an input rule reads (a device view or host memory), so one rule serves kernels and CPU code.</summary>
public interface IInkBytes
{
    byte At(long index);
}
