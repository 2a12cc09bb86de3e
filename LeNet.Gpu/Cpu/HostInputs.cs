using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>Ink bytes in host memory, for <see cref="InputField.Mnist"/>.</summary>
internal readonly unsafe struct HostInkBytes(byte* bytes) : IInkBytes
{
    public byte At(int index) => bytes[index];
}

/// <summary>Input fields in a host array, for <see cref="InputField.Bilinear"/>.</summary>
internal readonly struct HostFieldFloats(float[] floats) : IFieldFloats
{
    public float At(long index) => floats[index];
}
