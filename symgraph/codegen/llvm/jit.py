"""The process-wide JIT: one ORC LLJIT for the host CPU, the new pass manager, a compile lock
(LLVM's context is not thread-safe), and object code reused from the disk cache.

Each compiled module is a library of its own, owned by a ``Code`` object: the library is
unloaded when the last reference to its ``Code`` goes, so compiled code belongs to what uses
it (a Function's entry point, the kernels its frames call). ``pinning()`` keeps every ``Code``
compiled or looked up while a function is built, for that function to own.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import itertools
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import llvmlite
import llvmlite.binding as llvm

from symgraph.codegen.llvm import cache

OPT_LEVEL = 3


@dataclass
class CompileStats:
    """Counters for the profile and the tests: what was compiled, what came from a cache."""

    compiled: int = 0
    from_disk: int = 0
    from_memory: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0  # of ``seconds``: linking object code into the process
    log: list[str] = field(default_factory=list)


class Code:
    """Object code loaded into the process: the addresses of its exported symbols, valid as
    long as this object lives (its library is unloaded with the last reference)."""

    __slots__ = ("key", "addresses", "_tracker", "__weakref__")

    def __init__(self, key: str, tracker: Any, symbols: list[str]) -> None:
        self.key = key
        self._tracker = tracker
        self.addresses = {s: tracker[s] for s in symbols}

    @property
    def address(self) -> int:
        """The address of the one exported symbol."""
        (address,) = self.addresses.values()
        return address


_PINS = threading.local()


@contextlib.contextmanager
def pinning() -> Iterator[list[Code]]:
    """Collect (keep alive) every ``Code`` this thread compiles or looks up in the block; a
    nested block's codes are added to the enclosing one's too."""
    outer = getattr(_PINS, "codes", None)
    mine: list[Code] = []
    _PINS.codes = mine
    try:
        yield mine
    finally:
        _PINS.codes = outer
        if outer is not None:
            outer.extend(mine)


def pin(code: Code) -> Code:
    codes = getattr(_PINS, "codes", None)
    if codes is not None:
        codes.append(code)
    return code


class Engine:
    """Compiles IR modules into the running process, one unloadable library each."""

    def __init__(self) -> None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.initialize_native_asmparser()
        self.triple = llvm.get_process_triple()
        self.cpu = llvm.get_host_cpu_name()
        self.features = llvm.get_host_cpu_features().flatten()
        target = llvm.Target.from_triple(self.triple)
        self._target = target
        self._machines: dict[int, Any] = {}
        self.target_machine = self._machine(OPT_LEVEL)
        self.data_layout = str(self.target_machine.target_data)
        self.lock = threading.RLock()
        self.stats = CompileStats()
        self.has_f16c = "+f16c" in self.features.split(",")
        self.has_scalef = "+avx512f" in self.features.split(",")
        self.has_gomp = _load_gomp()
        self.settings = _Settings()
        self._jit = llvm.create_lljit_compiler(self.target_machine)
        self._live: weakref.WeakValueDictionary[str, Code] = weakref.WeakValueDictionary()
        self._names = itertools.count()
        # Symbols generated code refers to by name, given to every library.
        self._imports = {"sg_num_threads": self.settings.address()}
        self.closed = False

    def _machine(self, level: int) -> Any:
        """The target machine generating code at optimisation ``level`` (made once)."""
        if level not in self._machines:
            self._machines[level] = self._target.create_target_machine(
                cpu=self.cpu, features=self.features, opt=level, codemodel="jitdefault",
                jit=True)
        return self._machines[level]

    @property
    def fingerprint(self) -> str:
        """What object code depends on besides the IR: CPU, features, LLVM build, options."""
        return "|".join([self.cpu, self.features, llvmlite.__version__,
                         str(llvm.llvm_version_info), f"O{OPT_LEVEL}", self.triple])

    def key(self, ir_text: str, speed_level: int = OPT_LEVEL,
            codegen_level: int = OPT_LEVEL) -> str:
        level = f"S{speed_level}" + (f"C{codegen_level}" if codegen_level != OPT_LEVEL else "")
        text = f"{self.fingerprint}|{level}\n{ir_text}"
        return hashlib.sha256(text.encode()).hexdigest()

    def register_api(self, table: Any) -> None:
        """Make the C-function table of native entry points (capi.Api) visible as sg_api."""
        with self.lock:
            table.register(self._imports.__setitem__)

    def close(self) -> None:
        """Refuse further compiles and wait for the one in progress (at interpreter exit, so
        that no background compile is inside LLVM while it shuts down)."""
        self.closed = True
        with self.lock:
            pass

    def compile(self, ir_text: str, symbols: list[str],
                speed_level: int = OPT_LEVEL, codegen_level: int = OPT_LEVEL) -> Code:
        """The loaded code of ``ir_text`` exporting ``symbols``: shared while anything holds
        it, else compiled (the object code is taken from, or written to, the disk cache).
        Entry points, mostly calls, use a lower ``speed_level`` than kernels, and large ones
        a lower ``codegen_level`` (the code generator's: at 0, LLVM selects instructions
        with FastISel and allocates registers fast, several times faster on large
        modules, for somewhat slower code)."""
        with self.lock:
            if self.closed:
                raise RuntimeError("the JIT is closed: the interpreter is shutting down")
            key = self.key(ir_text, speed_level, codegen_level)
            code = self._live.get(key)
            if code is not None:
                self.stats.from_memory += 1
                return pin(code)
            start = time.perf_counter()
            # Only an object stored under this key by this user and defining ``symbols`` comes
            # back from the cache: a foreign one could run anything, or abort LLVM on a symbol
            # that is not registered yet.
            obj, from_disk = cache.get_or_build(
                key, lambda: self._codegen(ir_text, speed_level, codegen_level), symbols)
            load_start = time.perf_counter()
            code = Code(key, self._link(obj, symbols), symbols)
            self.stats.load_seconds += time.perf_counter() - load_start
            self._live[key] = code
            self.stats.from_disk += from_disk
            self.stats.compiled += not from_disk
            self.stats.seconds += time.perf_counter() - start
            return pin(code)

    def load(self, key: str, symbols: list[str]) -> Code | None:
        """The loaded code stored under ``key`` (a key ``compile`` made) exporting
        ``symbols``, from this process or the disk cache, without its IR; None when neither
        has it (absent, damaged, foreign, or missing a symbol)."""
        with self.lock:
            if self.closed:
                raise RuntimeError("the JIT is closed: the interpreter is shutting down")
            code = self._live.get(key)
            if code is not None:
                if not all(s in code.addresses for s in symbols):
                    return None
                self.stats.from_memory += 1
                return pin(code)
            start = time.perf_counter()
            obj = cache.load(key, symbols)
            if obj is None:
                return None
            code = Code(key, self._link(obj, symbols), symbols)
            self._live[key] = code
            elapsed = time.perf_counter() - start
            self.stats.load_seconds += elapsed
            self.stats.seconds += elapsed
            self.stats.from_disk += 1
            return pin(code)

    def _link(self, obj: bytes, symbols: list[str]) -> Any:
        """Load ``obj`` as a new library: process symbols (libc, libm, libgomp, libpython) and
        ours resolve; returns its resource tracker."""
        builder = llvm.JITLibraryBuilder().add_object_img(obj).add_current_process()
        for name, address in self._imports.items():
            builder.import_symbol(name, address)
        for symbol in symbols:
            builder.export_symbol(symbol)
        return builder.link(self._jit, f"sg{next(self._names)}")

    def _codegen(self, ir_text: str, speed_level: int = OPT_LEVEL,
                 codegen_level: int = OPT_LEVEL) -> bytes:
        # A context of its own, freed with the module: the global one would keep every
        # module's uniqued constants and types for the life of the process.
        context = llvm.create_context()
        module = llvm.parse_assembly(ir_text, context=context)
        module.triple = self.triple
        module.data_layout = self.data_layout
        module.verify()
        tuning = llvm.create_pipeline_tuning_options(speed_level=speed_level)
        tuning.loop_vectorization = True
        tuning.slp_vectorization = True
        passes = llvm.create_pass_builder(self.target_machine, tuning)
        passes.getModulePassManager().run(module, passes)
        return self._machine(codegen_level).emit_object(module)

    def optimized_ir(self, ir_text: str) -> str:
        """The module after optimisation (for tests and debugging)."""
        module = llvm.parse_assembly(ir_text)
        module.triple = self.triple
        module.data_layout = self.data_layout
        tuning = llvm.create_pipeline_tuning_options(speed_level=OPT_LEVEL)
        tuning.loop_vectorization = True
        tuning.slp_vectorization = True
        passes = llvm.create_pass_builder(self.target_machine, tuning)
        passes.getModulePassManager().run(module, passes)
        return str(module)

    def assembly(self, ir_text: str) -> str:
        module = llvm.parse_assembly(self.optimized_ir(ir_text))
        return self.target_machine.emit_assembly(module)


class _Settings:
    """Process-wide values generated code reads at run time (so changing them recompiles
    nothing): the thread count for parallel kernels."""

    def __init__(self) -> None:
        self.num_threads = ctypes.c_int32(1)

    def address(self) -> int:
        """Where generated code reads ``sg_num_threads``."""
        return ctypes.addressof(self.num_threads)

    def set_threads(self, count: int) -> None:
        self.num_threads.value = max(1, int(count))


# Spins of libgomp's busy-wait (about 100 a microsecond) before an idle worker sleeps, unless
# the user sets OMP_WAIT_POLICY or GOMP_SPINCOUNT: ~0.1 ms, which covers the gaps between the
# kernels of a step. Waking a sleeping worker cost ~30 us on these virtual machines (the
# fused 1e5 case on 2 threads: 47 us spinning this long, 79 us sleeping at once, 90 us on one
# thread), while spinning for the default 3 ms slows other processes on a shared machine.
SPIN_COUNT = 10000


def _load_gomp() -> bool:
    # Read by libgomp when it loads: idle workers spin briefly, then sleep.
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    path = ctypes.util.find_library("gomp")
    for candidate in filter(None, [path, "libgomp.so.1"]):
        try:
            llvm.load_library_permanently(candidate)
        except RuntimeError:
            continue
        return llvm.address_of_symbol("GOMP_parallel") is not None
    return False


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> Engine:
    """The process's engine, created on first use."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = Engine()
        return _ENGINE
