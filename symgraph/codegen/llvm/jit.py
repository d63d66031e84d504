"""The process-wide JIT: one long-lived MCJIT engine for the host CPU, the new pass manager,
a compile lock (LLVM's context is not thread-safe), and object code reused from the disk cache.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import threading
import time
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
    log: list[str] = field(default_factory=list)


class Engine:
    """Compiles IR modules into the running process; symbols stay alive for its lifetime."""

    def __init__(self) -> None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.initialize_native_asmparser()
        self.triple = llvm.get_process_triple()
        self.cpu = llvm.get_host_cpu_name()
        self.features = llvm.get_host_cpu_features().flatten()
        target = llvm.Target.from_triple(self.triple)
        self.target_machine = target.create_target_machine(
            cpu=self.cpu, features=self.features, opt=OPT_LEVEL, codemodel="jitdefault",
            jit=True)
        self.data_layout = str(self.target_machine.target_data)
        self.lock = threading.RLock()
        self.stats = CompileStats()
        self.has_f16c = "+f16c" in self.features.split(",")
        self.has_gomp = _load_gomp()
        self.settings = _Settings()
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self.target_machine)
        self._loaded: set[str] = set()
        self._api_registered = False
        self._modules: list[Any] = []
        self.settings.register()

    @property
    def fingerprint(self) -> str:
        """What object code depends on besides the IR: CPU, features, LLVM build, options."""
        return "|".join([self.cpu, self.features, llvmlite.__version__,
                         str(llvm.llvm_version_info), f"O{OPT_LEVEL}", self.triple])

    def key(self, ir_text: str, speed_level: int = OPT_LEVEL) -> str:
        text = f"{self.fingerprint}|S{speed_level}\n{ir_text}"
        return hashlib.sha256(text.encode()).hexdigest()

    def register_api(self, table: Any) -> None:
        """Make the C-function table of native entry points (capi.Api) visible as sg_api."""
        with self.lock:
            if not self._api_registered:
                table.register(llvm.add_symbol)
                self._api_registered = True

    def compile(self, ir_text: str, symbols: list[str],
                speed_level: int = OPT_LEVEL) -> dict[str, int]:
        """Addresses of ``symbols`` defined by ``ir_text`` (compiled once per process; the
        object code is taken from, or written to, the disk cache). Entry points, mostly
        calls, use a lower ``speed_level`` than kernels."""
        with self.lock:
            key = self.key(ir_text, speed_level)
            if key in self._loaded:
                self.stats.from_memory += 1
                return {s: self._engine.get_function_address(s) for s in symbols}
            start = time.perf_counter()
            # Only an object stored under this key by this user and defining ``symbols`` comes
            # back from the cache: a foreign one could run anything, or abort LLVM on a symbol
            # that is not registered yet.
            obj, from_disk = cache.get_or_build(
                key, lambda: self._codegen(ir_text, speed_level), symbols)
            self._engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
            self._engine.finalize_object()
            self.stats.from_disk += from_disk
            self.stats.compiled += not from_disk
            self._loaded.add(key)
            self.stats.seconds += time.perf_counter() - start
            return {s: self._engine.get_function_address(s) for s in symbols}

    def _codegen(self, ir_text: str, speed_level: int = OPT_LEVEL) -> bytes:
        module = llvm.parse_assembly(ir_text)
        module.triple = self.triple
        module.data_layout = self.data_layout
        module.verify()
        tuning = llvm.create_pipeline_tuning_options(speed_level=speed_level)
        tuning.loop_vectorization = True
        tuning.slp_vectorization = True
        passes = llvm.create_pass_builder(self.target_machine, tuning)
        passes.getModulePassManager().run(module, passes)
        return self.target_machine.emit_object(module)

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

    def register(self) -> None:
        llvm.add_symbol("sg_num_threads", ctypes.addressof(self.num_threads))

    def set_threads(self, count: int) -> None:
        self.num_threads.value = max(1, int(count))


def _load_gomp() -> bool:
    # Idle workers sleep instead of spinning: on a machine shared with other processes a
    # spinning team slows everyone down; read by libgomp when it loads.
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
