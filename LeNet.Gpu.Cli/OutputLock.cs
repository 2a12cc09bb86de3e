using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli;

/// <summary>
/// Holds a command's output files against a second command writing the same ones at the same time (two training
/// runs on one checkpoint would otherwise both succeed, the last writer winning). Each output gets a lock file
/// beside the file it replaces, <c>NAME.lock</c>, held with an exclusive advisory lock (flock) for as long as the
/// command runs and deleted when it ends; the system releases the lock of a killed process, so a lock file left by
/// one is simply taken over.
/// </summary>
public sealed class OutputLock : IDisposable
{
    private readonly List<FileStream> held = [];

    private OutputLock() { }

    /// <summary>Locks every given output (null paths are skipped).</summary>
    /// <exception cref="IOException">One is held by another run: one line naming the option and path.</exception>
    public static OutputLock Acquire(params (string Option, string? Path)[] outputs)
    {
        var locks = new OutputLock();
        try
        {
            foreach (var (option, path) in outputs.Where(o => o.Path is not null).DistinctBy(o => AtomicFile.Target(o.Path!)))
                locks.held.Add(Take(option, path!));
            return locks;
        }
        catch
        {
            locks.Dispose();
            throw;
        }
    }

    private static FileStream Take(string option, string path)
    {
        string lockPath = AtomicFile.SiblingPath(AtomicFile.Target(path), ".lock");
        // Opening a FIFO put in the lock's place would wait for ever.
        var kind = FileKinds.Of(lockPath);
        if (FileKinds.IsSpecial(kind) || kind == FileKind.Directory)
            throw new IOException($"cannot lock {option} {path}: {lockPath} is {FileKinds.Describe(kind)}, not a lock file");
        try
        {
            // FileShare.None is an exclusive flock on Unix; DeleteOnClose removes the file when the run ends.
            return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException)
        {
            throw new IOException($"{option} {path} is in use by another lenet run (it holds {lockPath}); wait for it to end or choose another path", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"cannot lock {option} {path}: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        foreach (var stream in held) stream.Dispose();
        held.Clear();
    }
}
