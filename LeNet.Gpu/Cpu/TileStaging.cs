using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Brings a tile's images into the tile layout (<see cref="TileLayout"/>): image-major input [valid][…] →
/// tile [1024][L]. Lanes past the batch get zeros so they stay finite.
/// </summary>
internal static unsafe class TileStaging<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    private static readonly int L = TS.Lanes;

    /// <summary>
    /// Images [valid][1024] → tile [1024][L]. Image by image: contiguous reads, stores one vector apart (reading
    /// across images, 4 KB apart, is half as fast).
    /// </summary>
    public static void Floats(float* source, int valid, float* tile)
    {
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            if (n >= valid)
            {
                for (int e = 0; e < TileLayout.Input; e++) d[e * L] = 0f;
                continue;
            }
            float* s = source + n * TileLayout.Input;
            for (int e = 0; e < TileLayout.Input; e += 4)
            {
                d[e * L] = s[e];
                d[(e + 1) * L] = s[e + 1];
                d[(e + 2) * L] = s[e + 2];
                d[(e + 3) * L] = s[e + 3];
            }
        }
    }

    /// <summary>
    /// MNIST bytes [valid][28·28] → tile [1024][L] by the input rule every engine uses (<see cref="InputField.Mnist"/>):
    /// a 2-pixel border of background, ink v → −0.1 + 1.275·v/255.
    /// </summary>
    public static void Mnist(byte* source, int valid, float* tile)
    {
        var bytes = new HostInkBytes(source);
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            int image = n * InputField.MnistLength;
            for (int y = 0; y < InputField.Size; y++)
                for (int x = 0; x < InputField.Size; x++)
                    d[(y * InputField.Size + x) * L] = n >= valid ? 0f : InputField.Mnist(bytes, image, x, y);
        }
    }
}
