"""Run the demo provider on its own: `python -m demo_provider` serves http://127.0.0.1:5001
(same as `flask --app demo_provider run --port 5001`), configured from the environment.
"""

from demo_provider import create_app

if __name__ == "__main__":
    # Loopback only: the demo users and their passwords are public.
    create_app().run(host="127.0.0.1", port=5001)
