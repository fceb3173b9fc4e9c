"""Where a root and a non-root user's daemon live by default (nbdock/defaults.py)."""

from nbdock import defaults


def test_root_uses_the_system_socket_and_data_root():
    assert defaults.default_host(euid=0, environ={}) == "unix:///run/nbdock/nbdock.sock"
    assert defaults.default_data_root(euid=0, environ={"HOME": "/root"}) == "/var/lib/nbdock"


def test_a_user_with_a_runtime_dir_gets_a_socket_there():
    env = {"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/ann"}
    assert defaults.default_host(euid=1000, environ=env) == "unix:///run/user/1000/nbdock/nbdock.sock"
    assert defaults.default_data_root(euid=1000, environ=env) == "/home/ann/.local/share/nbdock"


def test_a_user_without_a_runtime_dir_gets_a_private_tmp_dir():
    assert defaults.default_host(euid=1001, environ={"HOME": "/home/bob"}) == \
        "unix:///tmp/nbdock-1001/nbdock/nbdock.sock"


def test_xdg_data_home_is_honoured():
    env = {"XDG_DATA_HOME": "/data/ann", "HOME": "/home/ann"}
    assert defaults.default_data_root(euid=1000, environ=env) == "/data/ann/nbdock"
