using System.Text;
using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Robustness;

/// <summary>Where <see cref="AtomicFile"/> writes: through links, never over special files, names near the limit.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory temp = new();

    [Fact]
    public void A_symbolic_link_is_followed_and_stays_a_link()
    {
        Directory.CreateDirectory(temp.File("elsewhere"));
        File.WriteAllText(temp.File("elsewhere/target.bin"), "old");
        File.CreateSymbolicLink(temp.File("link.bin"), Path.Combine("elsewhere", "target.bin")); // relative, as ln -s makes them
        AtomicFile.WriteAllBytes(temp.File("link.bin"), "new"u8);
        Assert.Equal("symbolic link", FileSystem.KindOf(temp.File("link.bin")));
        Assert.Equal("new", File.ReadAllText(temp.File("elsewhere/target.bin")));
        // The temporary file was made beside the target (a rename cannot cross folders), and is gone.
        Assert.Single(Directory.GetFiles(temp.File("elsewhere")));
        Assert.Single(Directory.GetFiles(temp.Path));

        // A dangling link: the file it names is created.
        File.CreateSymbolicLink(temp.File("dangling.bin"), temp.File("elsewhere/new.bin"));
        AtomicFile.WriteAllBytes(temp.File("dangling.bin"), "made"u8);
        Assert.Equal("made", File.ReadAllText(temp.File("elsewhere/new.bin")));
        Assert.Equal("symbolic link", FileSystem.KindOf(temp.File("dangling.bin")));
    }

    [Fact]
    public void Special_files_are_refused_and_left_as_they_are()
    {
        FileSystem.MakeFifo(temp.File("pipe"));
        using var socket = FileSystem.MakeSocket(temp.File("socket"));
        File.CreateSymbolicLink(temp.File("link-to-pipe"), temp.File("pipe"));
        foreach (var (name, kind, words) in new[] { ("pipe", "fifo", "FIFO"), ("socket", "socket", "socket"), ("link-to-pipe", "symbolic link", "FIFO") })
        {
            var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllBytes(temp.File(name), "x"u8));
            Assert.Contains(words, e.Message);
            Assert.StartsWith($"cannot write {temp.File(name)}: ", e.Message);
            Assert.Equal(kind, FileSystem.KindOf(temp.File(name)));
        }
        if (FileSystem.TryMakeNullDevice(temp.File("null")))
        {
            var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllBytes(temp.File("null"), "x"u8));
            Assert.Contains("character device", e.Message);
            Assert.Equal("character special file", FileSystem.KindOf(temp.File("null")));
        }
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp-*"));
    }

    [Fact]
    public void A_name_of_255_bytes_can_be_written()
    {
        // 'é' is two bytes in UTF-8: the limit is in bytes, not characters.
        string name = new string('é', 100) + new string('m', 43) + ".safetensors";
        Assert.Equal(255, Encoding.UTF8.GetByteCount(name));
        AtomicFile.WriteAllBytes(temp.File(name), "long"u8);
        Assert.Equal("long", File.ReadAllText(temp.File(name)));
        Assert.Single(Directory.GetFiles(temp.Path));
        Assert.True(Encoding.UTF8.GetByteCount(Path.GetFileName(AtomicFile.SiblingPath(temp.File(name), ".lock"))) <= 255);
    }

    [Fact]
    public void Temporary_files_of_dead_writers_are_removed_and_live_ones_kept()
    {
        string target = temp.File("model.safetensors");
        string stale = AtomicFile.TemporaryPath(target, FileSystem.DeadProcessId());
        string live = AtomicFile.TemporaryPath(target, Environment.ProcessId);
        Assert.StartsWith(target + ".tmp-", stale);
        File.WriteAllText(stale, "half written by a killed run");
        File.WriteAllText(live, "being written right now");
        AtomicFile.WriteAllBytes(target, "whole"u8);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.Equal("whole", File.ReadAllText(target));
    }

    public void Dispose() => temp.Dispose();
}
