using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    /// Images [valid][1024] → tile [1024][L], in blocks of four images × four elements turned over in registers
    /// (SSE's 4×4 transpose: four loads, eight shuffles, four stores for sixteen floats), or float by float where
    /// SSE is absent. Lanes past <paramref name="valid"/> get zeros. Only moves floats: the bits are the images'.
    /// </summary>
    public static void Floats(float* source, int valid, float* tile)
    {
        if (!Sse.IsSupported)
        {
            FloatsOneByOne(source, valid, tile);
            return;
        }
        float* zero = stackalloc float[4] { 0f, 0f, 0f, 0f };
        for (int n = 0; n < L; n += 4)
        {
            // Images n..n+3; those past the batch read the same four zeros over and over.
            float* s0 = n < valid ? source + n * Architecture.InputLength : zero;
            float* s1 = n + 1 < valid ? source + (n + 1) * Architecture.InputLength : zero;
            float* s2 = n + 2 < valid ? source + (n + 2) * Architecture.InputLength : zero;
            float* s3 = n + 3 < valid ? source + (n + 3) * Architecture.InputLength : zero;
            int step0 = n < valid ? 4 : 0, step1 = n + 1 < valid ? 4 : 0, step2 = n + 2 < valid ? 4 : 0, step3 = n + 3 < valid ? 4 : 0;
            float* d = tile + n;
            for (int e = 0; e < Architecture.InputLength; e += 4, s0 += step0, s1 += step1, s2 += step2, s3 += step3, d += 4 * L)
            {
                Vector128<float> r0 = Sse.LoadVector128(s0), r1 = Sse.LoadVector128(s1), r2 = Sse.LoadVector128(s2), r3 = Sse.LoadVector128(s3);
                Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackLow(r2, r3), t2 = Sse.UnpackHigh(r0, r1), t3 = Sse.UnpackHigh(r2, r3);
                Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
                Sse.Store(d + L, Sse.MoveHighToLow(t1, t0));
                Sse.Store(d + 2 * L, Sse.MoveLowToHigh(t2, t3));
                Sse.Store(d + 3 * L, Sse.MoveHighToLow(t3, t2));
            }
        }
    }

    /// <summary>
    /// <see cref="Floats"/> without SSE. Image by image: contiguous reads, stores one vector apart (reading across
    /// images, 4 KB apart, is half as fast).
    /// </summary>
    private static void FloatsOneByOne(float* source, int valid, float* tile)
    {
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            if (n >= valid)
            {
                for (int e = 0; e < Architecture.InputLength; e++) d[e * L] = 0f;
                continue;
            }
            float* s = source + n * Architecture.InputLength;
            for (int e = 0; e < Architecture.InputLength; e += 4)
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
