using System.Security.Cryptography;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// Writes a file so that readers only ever see the old content or the whole new one: the bytes go to
/// <c>path.tmp-&lt;random&gt;</c> beside the target, are flushed to disk, then renamed over it. Failures are
/// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> whose message starts "cannot write PATH: ".
/// </summary>
public static class AtomicFile
{
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            throw new DirectoryNotFoundException($"cannot write {path}: directory {directory} does not exist");
        string temporary = $"{full}.tmp-{Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant()}";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The system's message names the temporary file, or no file at all; the caller knows only the path.
            string reason = e.Message.Replace(temporary, full, StringComparison.Ordinal).ReplaceLineEndings(" ");
            throw e is UnauthorizedAccessException
                ? new UnauthorizedAccessException($"cannot write {path}: {reason}", e)
                : new IOException($"cannot write {path}: {reason}", e);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
