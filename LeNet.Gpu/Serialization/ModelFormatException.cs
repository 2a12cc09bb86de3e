namespace LeNet.Gpu.Serialization;

/// <summary>
/// A weight file that cannot be loaded: not safetensors, inconsistent, or not a LeNet-5 of this library.
/// The message is one line naming the file (or stream) and the problem.
/// </summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>The file path, or a description of the stream.</summary>
    public string SourceName { get; }

    public ModelFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        SourceName = source;
    }
}
